"""Host names of configured targets, resolved as RFC 3263 says, in the background.

``order`` turns DNS records into next hops (pure), ``cache`` keeps each name's
hops for their TTL (pure, time passed in), ``resolver`` asks the DNS servers
(dnspython) and keeps the table fresh.
"""

"""Every default the proxy has, written once: the config loader, the core and the
SIP layer read them from here instead of repeating the numbers."""

from __future__ import annotations

# RFC 3261 §16.6 step 11: Timer C must be larger than 3 minutes.
TIMER_C_SECONDS = 185.0
# Larger requests get 513 (RFC 3261 §21.5.14); a stream closes its connection.
MAX_MESSAGE_SIZE = 65536
# RFC 5393 §4: parallel branches allowed for a request that carries no Max-Breadth.
MAX_BREADTH = 60
# §16.6 step 3: Max-Forwards for a request that carries none.
MAX_FORWARDS = 70
# Seconds a caller is asked to wait (Retry-After) when the proxy drains for a stop.
DRAINING_RETRY_AFTER = 30
# Seconds given to calls in progress after SIGTERM.
SHUTDOWN_GRACE_SECONDS = 10.0
# Where the proxy keeps what must survive a restart (the route-token secret).
STATE_DIR = "~/.local/state/vipproxy"

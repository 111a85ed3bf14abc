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
# Where the proxy keeps what must survive a restart: the SQLite store by default.
STATE_DIR = "~/.local/state/vipproxy"
# The store's write-behind: a batch is written this long after its first write was
# queued, so a kill -9 loses at most this much (plus the batch being written).
STORE_FLUSH_INTERVAL_SECONDS = 0.05
# Changes waiting to be written at most (changed bindings and finished calls' history
# records together); past it a new one is dropped, counted and logged.
STORE_QUEUE_LIMIT = 10_000
# The call history keeps a call this long after it started, then purges it.
HISTORY_RETENTION_SECONDS = 90 * 86400.0
# Digest authentication (proxy.auth). A nonce is good for this long; then the
# client is challenged again with stale=true (RFC 7616 §3.3).
AUTH_NONCE_LIFETIME_SECONDS = 300.0
# This many failed attempts from one address within the window block it for
# AUTH_BLOCK_SECONDS.
AUTH_MAX_FAILURES = 20
AUTH_FAILURE_WINDOW_SECONDS = 60.0
AUTH_BLOCK_SECONDS = 300.0
# Nonces whose nonce-count is remembered, and addresses with failures (or blocked), at most.
AUTH_TRACKED_NONCES = 10_000
AUTH_TRACKED_SOURCES = 10_000
# The registrar (RFC 3261 §10.3): an interval shorter than the minimum gets 423 with
# Min-Expires (step 7 note), a longer one than the maximum is shortened (step 7), and a
# Contact with neither an expires parameter nor an Expires header gets the default.
REGISTER_MIN_EXPIRES = 60
REGISTER_MAX_EXPIRES = 3600
REGISTER_DEFAULT_EXPIRES = 3600
# Dialogs (proxy.dialog): a call without an RFC 4028 session timer that goes quiet
# (its BYE lost) is ended after this long, so its line does not stay busy for ever.
DIALOG_MAX_DURATION_SECONDS = 12 * 3600.0
# Calls a line carries at once (ringing, talking or held) before the next gets 486
# Busy Here: two lets an assistant hold one call and take another, as the two line
# keys of a desk phone's shared line do.
LINE_MAX_CALLS = 2

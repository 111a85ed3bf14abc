"""Every default the proxy has, written once: the config loader, the core and the
SIP layer read them from here instead of repeating the numbers."""

from __future__ import annotations

# RFC 3261 §16.6 step 11: Timer C must be larger than 3 minutes.
TIMER_C_SECONDS = 185.0
# The transactions' timers (proxy/core/timer_queues.py) fire at most this late, in
# batches: a loop timer per batch instead of one per timer.
TIMER_RESOLUTION_SECONDS = 0.01
# Larger requests get 513 (RFC 3261 §21.5.14); a stream closes its connection.
MAX_MESSAGE_SIZE = 65536
# RFC 3261 §18.1.1: a request larger than this (bytes), the path MTU being unknown,
# goes over a congestion-controlled transport (TCP) rather than UDP.
UDP_REQUEST_LIMIT = 1300
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
# Bindings one address of record may hold (a desk phone, a softphone, a mobile app
# and their leftovers); past it the oldest make room. Each is a branch of a call.
REGISTER_MAX_CONTACTS = 10
# Dialogs (proxy.dialog): a call without an RFC 4028 session timer that goes quiet
# (its BYE lost) is ended after this long, so its line does not stay busy for ever.
DIALOG_MAX_DURATION_SECONDS = 12 * 3600.0
# Calls a line carries at once (ringing, talking or held) before the next gets 486
# Busy Here: two lets an assistant hold one call and take another, as the two line
# keys of a desk phone's shared line do.
LINE_MAX_CALLS = 2
# Busy lamps (proxy.presence, RFC 6665 §4.2.1): a SUBSCRIBE asking for less than
# the minimum gets 423 with Min-Expires, more than the maximum is shortened, and
# one without Expires gets the dialog package's default (RFC 4235 §3.4: an hour).
PRESENCE_MIN_EXPIRES = 60
PRESENCE_MAX_EXPIRES = 3600
PRESENCE_DEFAULT_EXPIRES = 3600
# A TCP connection nobody has used for this long is closed, so that file descriptors
# do not pile up; RFC 5626 keep-alive pings count as use.
TCP_IDLE_SECONDS = 300.0
# RFC 5626 §5.4: the Flow-Timer of a 200 to a REGISTER that uses outbound, by the
# transport of its flow; the phone sends a keep-alive every 80-100 % of it (§4.4.1).
# TCP: a CRLF ping every 96-120 s keeps the connection well inside TCP_IDLE_SECONDS,
# even with one ping lost, and the proxy waits longer than the Flow-Timer before it
# counts the flow as failed, as §5.4 asks. UDP: a STUN request every 20-25 s, inside
# the 30 s after which many NATs forget a UDP mapping; a proxy cannot see a UDP flow
# fail, so this value serves the phone's NAT alone.
FLOW_TIMER_TCP_SECONDS = 120
FLOW_TIMER_UDP_SECONDS = 25
# Busy lamps (proxy.presence): a line with up to this many calls gets full-state
# NOTIFYs (a few dialogs, what every phone understands); on a busier line each
# NOTIFY after the first carries only the calls that changed (RFC 4235 §4.1,
# partial state), so its size and cost do not grow with the line.
LAMP_FULL_STATE_MAX_CALLS = 4
# Busy lamps: the least time between two NOTIFYs of one subscription (RFC 6665 §4.2.2
# lets a notifier throttle; RFC 6446 §3 calls it the minimum interval). Changes of the
# line within it are merged into the next NOTIFY, so a lamp lags a change by at most
# this (plus the watcher's answer), and a busy line costs each watcher at most one
# NOTIFY per interval instead of one per change. A line that changes all the time
# (a hundred calls a second) costs each watcher one NOTIFY per interval, so this is
# about as long as it can be while 99% of the changes still leave within 100 ms on
# a loaded proxy (at 300 calls/s on one core, 90 ms gave a p99 of 97 ms): 60 ms sent
# 40% more NOTIFYs for a lag nobody at a lamp could see.
LAMP_NOTIFY_MIN_INTERVAL = 0.085
# The management API (proxy.admin), when the file has an ``api`` section: the
# loopback address unless the operator chooses another, so that nothing outside the
# host reaches it by default. The admin token is a bearer secret: long enough that
# guessing it under the failed-login throttle is hopeless.
API_HOST = "127.0.0.1"
API_PORT = 8080
ADMIN_TOKEN_MIN_LENGTH = 16
# Notifications (webhook POST, e-mail): tries per notification, the wait after the
# first failure (doubled after each, at most the maximum), and how many may wait
# to be sent at once; past that a new one is dropped and logged.
NOTIFY_ATTEMPTS = 5
NOTIFY_FIRST_RETRY_SECONDS = 0.5
NOTIFY_MAX_RETRY_SECONDS = 30.0
NOTIFY_QUEUE_LIMIT = 1000
NOTIFY_TIMEOUT_SECONDS = 10.0
# How often a proxy reads the delegators' settings from the store, so that a change
# made through another proxy sharing the database applies here too.
SETTINGS_REFRESH_SECONDS = 2.0
# Worker processes (``workers.count``): more than the cores of a large host would
# only add handoffs and context switches.
MAX_WORKERS = 16

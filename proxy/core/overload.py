"""Load shedding: when to answer new calls 503 instead of serving them (RFC 3261 §21.5.4).

Pure decision code (ARCHITECTURE principle 1): a watcher measures the load and
passes it in with the time; the driver asks, once per initial INVITE, whether to
admit the call. Nothing here reads a clock or touches a socket.

Why an adaptive admission rate and not an on/off switch: a proxy that is over
capacity cannot refuse work for free, because every datagram must still be read
and parsed before it can be answered. What keeps it useful is admitting about
as many new calls per second as it can finish and refusing the rest cheaply
(a stateless 503) before they cost a transaction, two branches, an ACK and a
BYE. An on/off switch refuses everything while on and lets the full offered
load in while off; that oscillates, and the calls admitted in the "off" half
queue behind the burst (UDP receive queue), so their setup time grows by
seconds and their retransmissions add load (RFC 6357 §4 describes this
collapse). Instead the guard runs a token bucket whose rate follows AIMD
(as in TCP congestion control, RFC 5681 §3.1): it starts near the admission
rate measured before the overload, is cut by a factor while the load signals
stay high, and grows back slowly while they are low. Calls in progress
(CANCEL, ACK, BYE, responses, retransmissions) never pass through the guard.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from proxy.sip.address import parse_name_addr
from proxy.sip.errors import SipParseError

# A stateless 503 carries a To tag with this prefix, so its ACK (RFC 3261
# §17.1.1.3: the caller must ACK a non-2xx final response, with the same To tag)
# can be recognised and dropped instead of being forwarded like a 2xx ACK.
SHED_TAG_PREFIX = "shed-"


@dataclass(frozen=True, slots=True)
class LoadSample:
    """One periodic measurement of the proxy's load."""

    loop_lag: float  # seconds the watcher's timer fired late
    in_progress: int  # server transactions not yet answered finally (core.in_progress)
    receive_backlog: int  # bytes waiting in the UDP receive queues (0 if unknown)


@dataclass(frozen=True, slots=True)
class OverloadSettings:
    """Thresholds and control gains of the guard.

    How the defaults were chosen (tools/bench, busy variant, 2 shared cores with
    another proxy under load on them, 50 ms samples; timelines of every sample):
    - The receive queue is the signal that moves; the loop lag stayed under
      30 ms even with 5 MiB queued, because uvloop runs timers between reads.
      Lag stays as a signal for pauses the queue cannot show.
    - Backlog marks: the kernel counts truesize, about 4 KiB per bench datagram,
      so 1 MiB is ~250 datagrams, 50-100 ms of work. At the highest rate served
      without failures the queue peaked at 500-750 KiB; past capacity it grows by
      megabytes per second, and once it holds ~500 ms of work the callers' and
      proxy's retransmissions (Timer A, T1 = 500 ms) make the overload feed
      itself. ``sustain`` = 2 samples keeps a lone GC pause from starting it.
    - ``start_factor`` 0.5: at a step to twice capacity the rate admitted just
      before is the offered rate, so half of it is near capacity. With 0.75 the
      queue grew from 1 to 5.7 MiB before the cuts caught up (p99 setup 2.2 s).
    - Cuts of 0.8, at most every 0.5 s and only while the queue still grows: an
      admitted call brings its ACK and BYE 0.5-1 s later, so faster or repeated
      cuts overshot (344 -> 58 calls/s while the queue was already draining).
    - Growth 30%/s when healthy: after the offered rate falls back to capacity
      the rate passes it within about 2 s (the bench's recovery target is 5 s);
      20%/s measured recoveries of 0.3 and 8.5 s, 30%/s 3.9 s.
    """

    lag_high: float = 0.080  # s: overloaded when the loop is this late...
    lag_low: float = 0.030  # s: ...and healthy again below this
    backlog_high: int = 1024 * 1024  # bytes queued in the kernel: overloaded
    backlog_low: int = 256 * 1024  # bytes: healthy
    in_progress_budget: int = 3000  # server transactions unanswered: overloaded
    sustain: int = 2  # consecutive overloaded samples before shedding starts
    start_factor: float = 0.5  # first rate = this x the admission rate measured before
    decrease_factor: float = 0.8  # rate x this on an overloaded sample while shedding...
    decrease_interval: float = 0.5  # s: ...at most this often (admitted calls load later)
    increase_per_second: float = 0.30  # rate grows this fraction per healthy second
    calm_time: float = 1.0  # s healthy with nothing refused before shedding stops
    rate_window: float = 1.0  # s: admission rate before shedding is measured over this
    min_rate: float = 5.0  # calls/s always admitted while shedding
    burst_time: float = 0.05  # s of the current rate the bucket may admit at once
    retry_after: int = 5  # s: Retry-After of the 503 (RFC 3261 §20.33)


@dataclass(frozen=True, slots=True)
class ShedChange:
    """Returned by :meth:`LoadGuard.observe` when shedding starts or stops."""

    shedding: bool
    reason: str  # e.g. "event loop 180 ms late"


def overload_reason(sample: LoadSample, settings: OverloadSettings) -> str | None:
    """What in ``sample`` says overloaded, or None when nothing does."""
    reasons = []
    if sample.loop_lag >= settings.lag_high:
        reasons.append(f"event loop {sample.loop_lag * 1000:.0f} ms late")
    if sample.receive_backlog >= settings.backlog_high:
        reasons.append(f"{sample.receive_backlog // 1024} KiB waiting in the receive queue")
    if sample.in_progress >= settings.in_progress_budget:
        reasons.append(f"{sample.in_progress} transactions in progress "
                       f"(budget {settings.in_progress_budget})")
    return ", ".join(reasons) or None


def is_healthy(sample: LoadSample, settings: OverloadSettings) -> bool:
    """Every signal below its low-water mark (hysteresis against flapping)."""
    return (sample.loop_lag < settings.lag_low
            and sample.receive_backlog < settings.backlog_low
            and sample.in_progress < settings.in_progress_budget)


def shed_to_tag(nonce: str) -> str:
    """The To tag of a 503 sent by shedding (RFC 3261 §19.3: unique per response)."""
    return SHED_TAG_PREFIX + nonce


def is_shed_tag(tag: str | None) -> bool:
    """Whether a To tag came from :func:`shed_to_tag`: its ACK ends here."""
    return tag is not None and tag.startswith(SHED_TAG_PREFIX)


def answers_shed_call(to_value: str) -> bool:
    """Whether a request with this To header value (an ACK) answers a 503 sent by
    shedding: RFC 3261 §17.1.1.3, the ACK of a non-2xx final carries its To tag."""
    if SHED_TAG_PREFIX not in to_value:
        return False  # the common case (every 2xx ACK), decided without a parse
    try:
        return is_shed_tag(parse_name_addr(to_value).tag)
    except SipParseError:
        return False


class LoadGuard:
    """Admission control for new calls; see the module docstring for the why."""

    def __init__(self, settings: OverloadSettings) -> None:
        self._settings = settings
        self._shedding = False
        self._rate = 0.0  # admissions per second while shedding
        self._tokens = 0.0
        self._refilled_at: float | None = None
        self._overloaded_samples = 0
        self._last_decrease = float("-inf")
        self._last_backlog = 0
        self._calm_since: float | None = None
        # Admissions and refusals since the last sample; admissions per sample
        # over the last rate_window seconds, as (sample time, admitted).
        self._admitted = 0
        self._refused = 0
        self._history: deque[tuple[float, int]] = deque()
        self._window_start = 0.0  # the samples in _history cover (_window_start, now]
        self._last_sample_at: float | None = None

    @property
    def shedding(self) -> bool:
        """Whether new calls are being refused beyond the admission rate."""
        return self._shedding

    @property
    def retry_after(self) -> int:
        """Seconds for the Retry-After header of a 503."""
        return self._settings.retry_after

    @property
    def admission_rate(self) -> float | None:
        """New calls per second admitted while shedding; None when not shedding."""
        return self._rate if self._shedding else None

    def observe(self, sample: LoadSample, now: float) -> ShedChange | None:
        """Take one measurement; say so when shedding starts or stops."""
        settings = self._settings
        elapsed = self._measure_admissions(now)
        refused = self._refused
        self._refused = 0
        reason = overload_reason(sample, settings)
        worsening = self._worsening(sample)
        self._last_backlog = sample.receive_backlog
        self._overloaded_samples = self._overloaded_samples + 1 if reason else 0
        if not self._shedding:
            if reason is None or self._overloaded_samples < settings.sustain:
                return None
            return self._start(reason, now)
        if reason is not None:
            self._calm_since = None
            if worsening and (
                    now - self._last_decrease >= settings.decrease_interval):
                self._rate = max(settings.min_rate, self._rate * settings.decrease_factor)
                self._last_decrease = now
            return None
        if not is_healthy(sample, settings):
            self._calm_since = None
            return None
        # Healthy: probe for more capacity (additive-style growth per second).
        self._rate += self._rate * settings.increase_per_second * elapsed
        if refused:
            self._calm_since = None
            return None
        if self._calm_since is None:
            self._calm_since = now
        if now - self._calm_since >= settings.calm_time:
            return self._stop(now)
        return None

    def admit_new_call(self, now: float) -> bool:
        """Called once per initial INVITE; False means answer it 503."""
        if not self._shedding:
            self._admitted += 1
            return True
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self._admitted += 1
            return True
        self._refused += 1
        return False

    # --- internals ----------------------------------------------------------------

    def _worsening(self, sample: LoadSample) -> bool:
        """Whether an overloaded sample calls for a lower rate. A receive queue that
        shrinks since the last sample is already draining at the current rate:
        cutting again before that shows would overshoot (measured: four cuts in a
        row while a queue drained took the rate from 344 to 58 calls/s, and 15%/s
        growth needed 12 s to come back)."""
        return (sample.loop_lag >= self._settings.lag_high
                or sample.in_progress >= self._settings.in_progress_budget
                or sample.receive_backlog >= self._last_backlog)

    def _measure_admissions(self, now: float) -> float:
        """Record the admissions since the last sample; the seconds since it."""
        last, self._last_sample_at = self._last_sample_at, now
        if last is None:
            # Admissions before the first sample have no known interval: dropped.
            self._window_start = now
            self._admitted = 0
            return 0.0
        self._history.append((now, self._admitted))
        self._admitted = 0
        while self._history and self._history[0][0] <= now - self._settings.rate_window:
            self._window_start = self._history.popleft()[0]
        return max(0.0, now - last)

    def _admitted_rate(self, now: float) -> float:
        """Admissions per second over the last ``rate_window`` seconds of samples."""
        span = now - self._window_start
        total = sum(count for _, count in self._history)
        return total / span if span > 0 else 0.0

    def _start(self, reason: str, now: float) -> ShedChange:
        settings = self._settings
        self._shedding = True
        self._rate = max(settings.min_rate, self._admitted_rate(now) * settings.start_factor)
        self._tokens = 0.0
        self._refilled_at = now
        self._last_decrease = now
        self._calm_since = None
        return ShedChange(True, f"{reason}; admitting {self._rate:.0f} new calls/s")

    def _stop(self, now: float) -> ShedChange:
        calm_for = now - (self._calm_since if self._calm_since is not None else now)
        self._shedding = False
        self._calm_since = None
        self._overloaded_samples = 0
        return ShedChange(False, f"load normal for {calm_for:.1f} s, nothing refused; "
                                 f"admission rate had reached {self._rate:.0f} calls/s")

    def _refill(self, now: float) -> None:
        last = self._refilled_at if self._refilled_at is not None else now
        self._refilled_at = now
        burst = max(1.0, self._rate * self._settings.burst_time)
        self._tokens = min(burst, self._tokens + self._rate * max(0.0, now - last))

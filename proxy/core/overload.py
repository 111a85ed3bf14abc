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
rate measured before the overload (not below a rate served without one), is
cut by a factor while the overload lasts and grows, and grows back slowly while
it is gone. Only an overload that lasts counts (``SustainedOverload``): a
moment's pause leaves a queue that drains by itself. Calls in progress (CANCEL,
ACK, BYE, responses, retransmissions) never pass through the guard.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Protocol

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
    - Growth 30%/s when not overloaded: after the offered rate falls back to
      capacity the rate passes it within about 2 s (the bench's recovery target
      is 5 s); 20%/s measured recoveries of 0.3 and 8.5 s, 30%/s 3.9 s.
    What the cancel variant (callee B rings and is cancelled: about 10 datagrams
    in per call instead of 7) added, from timelines of every sample:
    - A queue over the mark is not yet an overload: near capacity a GC pass
      (gen1 40-140 ms, gen2 170-700 ms at 300-400 calls/s) or another process
      on the core leaves a queue that then drains (``SustainedOverload``).
    - The loop is late mostly during those pauses: two late samples in a row
      happened a few times a minute; ``lag_sustain`` 4 (0.2 s late at least
      four times in a row) is not a pause.
    - Shedding that starts while the proxy serves what is offered starts at the
      rate served (``sustained_window``), not at half of it; a cut starts from
      what was admitted, not from a rate above the offered one (two cuts in a row
      refused nothing), and holds if the queue shrank since the last decision.
    - The rate grows whenever nothing is over a high mark, up to ``rate_margin``
      x the admitted rate: held between the marks, it stayed at 372-385 calls/s
      while 400 were offered and the queue was already under 1 MiB.
    - ``backlog_target``: while shedding, the rate is steered to keep the queue
      under 512 KiB, not under the 1 MiB that starts shedding. An admitted call's
      setup crosses the queue twice (its INVITE, then the 200), and steered to
      1 MiB the queue stood near it: busy variant, 800 then 400 calls/s, setup p99
      752 and 1,260 ms in two runs, 465 calls timed out in the second; steered to
      512 KiB, in the same runs, 392 and 496 ms, none timed out, goodput 102% and
      107% of 400 calls/s. The start mark stays at 1 MiB, above the queue a
      pause leaves at a rate the proxy serves.
    - While shedding, a queue over that 1 MiB refuses every new call, whatever
      the rate, until a sample finds it back under. The rate's cuts come at most
      every 0.5 s and act with the delay of the admitted calls' ACKs and BYEs, so
      a queue could still build for a second at a time, and the calls set up
      then made the setup p99 (cancel variant, 700 then 350 calls/s: seconds
      9-11 had p99 584-640 ms, the whole overload 624 ms). Refused at once, the
      queue stops growing within a sample. Nine runs (busy 800 then 400,
      cancel 700 then 350), each beside the rate alone: setup p99 340-400 ms
      against 368-556 ms, goodput 97-110% of the rate against 96-106%, no
      timeouts; in two, a second short shedding period came 35 s after the
      start, at the rate served (the rate alone: none in those nine runs).
    What that second period is: a fresh process serves more than it sustains.
    Its CPU per call grows for minutes under a constant load (cancel variant,
    250 calls/s: 64% of a core in the first 30 s, 69% once finished
    transactions start to end after their 32 s (RFC 3261 §17), about 80% from
    the fourth minute on; the README, Speed, says why). During an overload of
    a fresh process the guard admitted what the queue showed it could serve
    then, 108-140% of a rate measured over 70 s, and the rate after the drop
    then met a dearer process (7 of 8 such runs had no 503 after the first
    second past the drop). Warmed up at the rate for 180 s first (the README's
    overload check), three runs per rate:
    - at the highest rates whose three warm-ups completed every call, busy
      320 and cancel 280, the last 503 came 0.5 s after the drop, none, and
      14.3 s (busy: shedding went on from the overload) and 0.1 s, 0.2 s and
      none (cancel); at busy 340 (one warm-up in three refused 408 calls)
      none in all three;
    - at busy 360 and cancel 290, one warm-up in three refused calls with no
      overload at all (1,041 and 161), and after the overload 503s went on
      for 0.4, 0.5 and 22.9 s (busy) and 9.3, 31.9 and 36.8 s (cancel). In a
      traced run at 290 the process took 80% of a core in the warm-up's last
      30 s, 94% during the overload and 88% in the 40 s after it: at a rate
      the proxy barely sustains, little CPU is spare to drain what the
      overload left, and the overload's own calls end 32 s later.
    - Shedding ends on the queue and on refusals, not on a low mark for the
      loop's lateness: at the rates the proxy serves, a pause (then the
      collector's pass over generation 1, once a second, 40-140 ms at
      capacity; proxy/collector.py has since dropped it) made one sample a
      second 40-65 ms late. With a 30 ms low mark a calm second never came
      while the load lasted: in those warm runs shedding went on for 20-28 s
      after the drop at a rate over the offered one, refusing nothing, until a
      surge of the queue there cut the rate (cancel 290: 510 to 211 calls/s
      7 s after the drop, the 9.3 s above; busy 320: the 14.3 s). Out of
      shedding, such a surge has to reach the start mark and stay. The same
      warm check after this change, three runs each: busy 320 none, none and
      0.4 s; cancel 280 0.5, 0.3 and 1.2 s. With the collector's change as
      well (no pause a second): busy 320 none in all three, cancel 280 none,
      none and 0.5 s; busy 360 0.4, 1.1 and 0.5 s; cancel 300 none, 0.0 s and
      one run with a second period 30 s after the overload (161 calls refused
      in 2.1 s), when the transactions of the calls it admitted end; two more
      at cancel 300: none and 0.0 s, and one of their warm-ups refused 200
      calls with no overload (96.5 s in).
    """

    lag_high: float = 0.080  # s: the loop this late is overloaded, earlier is healthy
    backlog_high: int = 1024 * 1024  # bytes queued in the kernel: overloaded
    backlog_target: int = 512 * 1024  # bytes: while shedding, the queue is held under this
    backlog_low: int = 256 * 1024  # bytes: healthy
    in_progress_budget: int = 3000  # server transactions unanswered: overloaded
    sustain: int = 2  # consecutive samples over a mark (the queue not shrinking) to act
    lag_sustain: int = 4  # consecutive late samples before lateness alone counts
    start_factor: float = 0.5  # first rate = this x the admission rate measured before
    decrease_factor: float = 0.8  # rate x this when the overload grew...
    decision_interval: float = 0.5  # s: ...since the last decision this long ago
    increase_per_second: float = 0.30  # rate grows this fraction per second not overloaded
    calm_time: float = 1.0  # s healthy with nothing refused before shedding stops
    rate_window: float = 1.0  # s: admission rate before shedding is measured over this
    sustained_window: float = 3.0  # s without a sustained overload: its rate was served
    rate_margin: float = 1.5  # the rate grows to at most this x the rate admitted
    min_rate: float = 5.0  # calls/s always admitted while shedding
    burst_time: float = 0.05  # s of the current rate the bucket may admit at once
    retry_after: int = 5  # s: Retry-After of the 503 (RFC 3261 §20.33)


@dataclass(frozen=True, slots=True)
class ShedChange:
    """Returned by :meth:`LoadGuard.observe` when shedding starts or stops."""

    shedding: bool
    reason: str  # e.g. "event loop 180 ms late"


def overload_reason(sample: LoadSample, settings: OverloadSettings,
                    backlog_mark: int) -> str | None:
    """What in ``sample`` says overloaded, with the receive queue over
    ``backlog_mark`` counting as overload; None when nothing does."""
    reasons = []
    if sample.loop_lag >= settings.lag_high:
        reasons.append(f"event loop {sample.loop_lag * 1000:.0f} ms late")
    if sample.receive_backlog >= backlog_mark:
        reasons.append(f"{sample.receive_backlog // 1024} KiB waiting in the receive queue")
    if sample.in_progress >= settings.in_progress_budget:
        reasons.append(f"{sample.in_progress} transactions in progress "
                       f"(budget {settings.in_progress_budget})")
    return ", ".join(reasons) or None


def is_healthy(sample: LoadSample, settings: OverloadSettings) -> bool:
    """The queue below its low-water mark (hysteresis against flapping), the loop
    under the mark that is overload and transactions within budget. The loop
    needs no low mark of its own: lateness alone starts shedding only when it
    lasts (``lag_sustain``), and a pause makes single samples late (see
    OverloadSettings)."""
    return (sample.loop_lag < settings.lag_high
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


class SustainedOverload:
    """Which overloads last long enough to act on; one sample at a time.

    A pause of the process (a garbage-collector pass, another process on the
    core) makes one sample late and leaves datagrams queued behind it; at a
    rate the proxy can serve, the queue then drains. Refusing calls for that
    turns a pause into seconds of 503s (measured, bench cancel variant 800 then
    400 calls/s: two late samples, 136 and 114 ms, 14 s after the drop to 400
    restarted shedding at 167 calls/s, and 503s went on until 17.6 s after the
    drop). So the receive queue counts when it stays over its mark without
    shrinking for ``sustain`` samples, lateness when it lasts ``lag_sustain``
    samples, and transactions in progress when they stay over the budget for
    ``sustain`` samples.
    """

    def __init__(self, settings: OverloadSettings) -> None:
        self._settings = settings
        self._late = 0  # consecutive samples with the loop late
        self._busy = 0  # consecutive samples over the transaction budget
        self._queued: deque[int] = deque(maxlen=settings.sustain)  # backlogs over the mark

    def observe(self, sample: LoadSample, backlog_mark: int) -> str | None:
        """The reason the load has been too high for a while, or None; the
        receive queue counts when it stays over ``backlog_mark``."""
        settings = self._settings
        self._late = self._late + 1 if sample.loop_lag >= settings.lag_high else 0
        self._busy = self._busy + 1 if sample.in_progress >= settings.in_progress_budget else 0
        if sample.receive_backlog >= backlog_mark:
            self._queued.append(sample.receive_backlog)
        else:
            self._queued.clear()
        reasons = []
        if self._late >= settings.lag_sustain:
            reasons.append(f"event loop {sample.loop_lag * 1000:.0f} ms late "
                           f"{self._late} samples in a row")
        if len(self._queued) == settings.sustain and self._queued[-1] >= self._queued[0]:
            reasons.append(f"{sample.receive_backlog // 1024} KiB waiting in the receive "
                           f"queue and not shrinking")
        if self._busy >= settings.sustain:
            reasons.append(f"{sample.in_progress} transactions in progress "
                           f"(budget {settings.in_progress_budget})")
        return ", ".join(reasons) or None


class Admission(Protocol):
    """What the driver asks of admission control before it takes a new call.

    A protocol rather than :class:`LoadGuard` itself: compiled code checks an
    argument's class, and the unit tests stand a stub in for the guard."""

    @property
    def retry_after(self) -> int: ...

    def admit_new_call(self, now: float) -> bool: ...


class LoadGuard:
    """Admission control for new calls; see the module docstring for the why."""

    def __init__(self, settings: OverloadSettings) -> None:
        self._settings = settings
        self._sustained = SustainedOverload(settings)
        self._shedding = False
        self._rate = 0.0  # admissions per second while shedding
        self._tokens = 0.0
        self._refilled_at: float | None = None
        self._last_decision = float("-inf")
        self._backlog_at_decision = 0  # the receive queue at the start or the last cut
        self._calm_since: float | None = None
        self._backlog = 0  # the receive queue at the last sample
        self._started_at = 0.0
        self._refused_in_period = 0  # calls refused since shedding started
        # The rate admitted over the last sustained_window seconds without a
        # sustained overload: one the proxy has shown it can serve.
        self._served_rate = 0.0
        self._overloaded_at = float("-inf")  # the last sample with a sustained overload
        # Admissions and refusals since the last sample; admissions per sample as
        # (previous sample time, sample time, admitted) over the longest window.
        self._admitted = 0
        self._refused = 0
        self._history: deque[tuple[float, float, int]] = deque()
        self._first_sample_at: float | None = None
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
        self._refused_in_period += refused
        self._backlog = sample.receive_backlog
        backlog_mark = self._backlog_mark()
        sustained = self._sustained.observe(sample, backlog_mark)
        if sample.receive_backlog < backlog_mark:
            self._backlog_at_decision = 0  # the queue came down: a new overload is new
        self._remember_served_rate(sustained, now)
        if not self._shedding:
            return None if sustained is None else self._start(sustained, sample, now)
        if sustained is not None:
            self._calm_since = None
            if now - self._last_decision >= settings.decision_interval:
                self._decide(sample, now)
            return None
        if overload_reason(sample, settings, backlog_mark) is not None:
            # Over a mark for a moment (a pause whose queue drains): hold the rate.
            self._calm_since = None
            return None
        self._grow(now, elapsed)
        if not is_healthy(sample, settings):
            self._calm_since = None
            return None
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
        # While shedding, a queue over the mark that starts shedding refuses every
        # new call until it is back under (see OverloadSettings).
        if self._tokens >= 1.0 and self._backlog < self._settings.backlog_high:
            self._tokens -= 1.0
            self._admitted += 1
            return True
        self._refused += 1
        return False

    # --- internals ----------------------------------------------------------------

    def _backlog_mark(self) -> int:
        """The receive queue that counts as overload: ``backlog_high`` to start
        shedding, the lower ``backlog_target`` while shedding. Every datagram of
        an admitted call waits behind the queue, and its setup crosses it twice
        (the INVITE, then the 200), so the queue the rate is steered to is what
        the calls served during an overload wait; the higher mark to start keeps
        the queue of a pause the proxy drains by itself from starting it."""
        settings = self._settings
        return settings.backlog_target if self._shedding else settings.backlog_high

    def _decide(self, sample: LoadSample, now: float) -> None:
        """Once per ``decision_interval`` of sustained overload: cut the rate if the
        load grew since the last decision, else hold it. A queue smaller than
        then is draining at the current rate, and cutting again before that shows
        overshoots (measured: cuts on a queue that grew from one sample to the
        next, but not over the interval, took the rate from 418 to 119 calls/s
        while 300 were offered and the queue went down)."""
        settings = self._settings
        if (sample.loop_lag >= settings.lag_high
                or sample.in_progress >= settings.in_progress_budget
                or sample.receive_backlog >= self._backlog_at_decision):
            # Below what was really admitted: while fewer calls are offered than
            # the rate allows, a cut of the rate alone would refuse nothing.
            admitted = min(self._rate, self._admitted_rate(now, settings.rate_window))
            self._rate = max(settings.min_rate, admitted * settings.decrease_factor)
        self._last_decision = now
        self._backlog_at_decision = sample.receive_backlog

    def _grow(self, now: float, elapsed: float) -> None:
        """Not overloaded: probe for more capacity (multiplicative growth per
        second), up to a margin over what is really admitted. Below the high marks
        counts, not only below the low ones: a rate held between them while calls
        are refused kept refusing them for seconds at a rate the proxy served."""
        settings = self._settings
        ceiling = settings.rate_margin * self._admitted_rate(now, settings.rate_window)
        grown = self._rate * (1 + settings.increase_per_second * elapsed)
        self._rate = max(self._rate, min(ceiling, grown))

    def _remember_served_rate(self, sustained: str | None, now: float) -> None:
        if sustained is not None:
            self._overloaded_at = now
            return
        window = self._settings.sustained_window
        first = self._first_sample_at if self._first_sample_at is not None else now
        if now - max(self._overloaded_at, first) >= window:
            self._served_rate = self._admitted_rate(now, window)

    def _measure_admissions(self, now: float) -> float:
        """Record the admissions since the last sample; the seconds since it."""
        last, self._last_sample_at = self._last_sample_at, now
        if last is None:
            # Admissions before the first sample have no known interval: dropped.
            self._first_sample_at = now
            self._admitted = 0
            return 0.0
        self._history.append((last, now, self._admitted))
        self._admitted = 0
        longest = max(self._settings.rate_window, self._settings.sustained_window)
        while self._history and self._history[0][1] <= now - longest:
            self._history.popleft()
        return max(0.0, now - last)

    def _admitted_rate(self, now: float, window: float) -> float:
        """Admissions per second over the samples of the last ``window`` seconds."""
        total = 0
        start = now
        for since, at, admitted in reversed(self._history):
            if at <= now - window:
                break
            total += admitted
            start = since
        span = now - start
        return total / span if span > 0 else 0.0

    def _start(self, reason: str, sample: LoadSample, now: float) -> ShedChange:
        """Start at ``start_factor`` of the rate admitted before, but not below a
        rate served without overload (``_served_rate``), unless more were
        admitted just now: the overload is then a step, the served rate a floor."""
        settings = self._settings
        admitted = self._admitted_rate(now, settings.rate_window)
        self._shedding = True
        self._rate = max(settings.min_rate, admitted * settings.start_factor,
                         min(admitted, self._served_rate))
        self._tokens = self._burst()
        self._refilled_at = now
        self._last_decision = now
        self._calm_since = None
        self._started_at = now
        self._refused_in_period = 0
        self._backlog_at_decision = sample.receive_backlog
        return ShedChange(True, f"{reason}; admitting {self._rate:.0f} new calls/s")

    def _stop(self, now: float) -> ShedChange:
        calm_for = now - (self._calm_since if self._calm_since is not None else now)
        self._shedding = False
        self._calm_since = None
        return ShedChange(False, f"load normal for {calm_for:.1f} s, nothing refused; "
                                 f"{self._refused_in_period} calls refused in "
                                 f"{now - self._started_at:.1f} s of shedding; admission "
                                 f"rate had reached {self._rate:.0f} calls/s")

    def _refill(self, now: float) -> None:
        last = self._refilled_at if self._refilled_at is not None else now
        self._refilled_at = now
        self._tokens = min(self._burst(), self._tokens + self._rate * max(0.0, now - last))

    def _burst(self) -> float:
        return max(1.0, self._rate * self._settings.burst_time)

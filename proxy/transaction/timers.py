"""RFC 3261 §17 timer values, derived from T1, T2 and T4 (Table 4 of §A)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TimerSettings:
    """T1 (RTT estimate), T2 (max non-INVITE retransmit interval), T4 (max network lifetime)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @property
    def transaction_timeout(self) -> float:
        """Timers B, F, H, J, L and M: 64*T1 (RFC 3261 §17, RFC 6026 §8.7 for L/M)."""
        return 64 * self.t1

    @property
    def cancel_wait(self) -> float:
        """How long a proxy waits for the branches' answers to its CANCELs before it
        answers the caller 487 itself: 32*T1, half the 64*T1 the caller waits for
        that 487 (RFC 3261 §9.1), so that it still finds the caller's transaction."""
        return 32 * self.t1

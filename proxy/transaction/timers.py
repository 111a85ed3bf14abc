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

"""The states of RFC 3261 §17 transactions (plus Accepted, RFC 6026 §7).

One enum serves all four machines; each uses the subset its RFC figure shows:
INVITE client Calling/Proceeding/Completed/Accepted (Figure 5 as amended by
RFC 6026), non-INVITE client Trying/Proceeding/Completed (Figure 6), INVITE
server Proceeding/Completed/Confirmed/Accepted (Figure 7 amended), non-INVITE
server Trying/Proceeding/Completed (Figure 8). All end in Terminated.
"""

from __future__ import annotations

from enum import StrEnum


class TransactionState(StrEnum):
    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"

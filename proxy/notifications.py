"""Delivering notices (``proxy.notices``) by webhook (HTTP POST, JSON) and by
e-mail through an SMTP server, off the request that caused them.

Notices wait in a bounded queue (``NOTIFY_QUEUE_LIMIT``; past it a new one is
dropped and logged) and one worker sends them in order. Each delivery is tried up
to ``attempts`` times, waiting ``NOTIFY_FIRST_RETRY_SECONDS`` after the first
failure and twice as long after each next (at most ``NOTIFY_MAX_RETRY_SECONDS``).
A webhook answer other than 2xx is a failure. E-mail goes to the recipient's
``users.<id>.email``; a user without one gets the webhook only.
"""

from __future__ import annotations

import asyncio
import smtplib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from email.message import EmailMessage
from typing import Any

import httpx

from proxy.config.loader import EmailSettings, NotificationSettings, WebhookSettings
from proxy.defaults import (
    NOTIFY_FIRST_RETRY_SECONDS,
    NOTIFY_MAX_RETRY_SECONDS,
    NOTIFY_QUEUE_LIMIT,
    NOTIFY_TIMEOUT_SECONDS,
)
from proxy.notices import Notice


class Notifications:
    """The queue and its worker; :meth:`start` it, :meth:`stop` it at the end."""

    def __init__(self, settings: NotificationSettings, emails: Callable[[], Mapping[str, str]],
                 log: Any) -> None:
        self._settings = settings
        self._emails = emails  # user id -> address, as the configuration says now
        self._log = log
        self._queue: asyncio.Queue[tuple[Notice, float]] = asyncio.Queue(NOTIFY_QUEUE_LIMIT)
        self._worker: asyncio.Task[None] | None = None
        self.results: Counter[tuple[str, str]] = Counter()  # (channel, result) -> count

    def tell(self, notice: Notice) -> None:
        """Queue ``notice`` for delivery; never waits."""
        try:
            self._queue.put_nowait((notice, time.time()))
        except asyncio.QueueFull:
            self.results["queue", "dropped"] += 1
            self._log.warning("notice.dropped", notice=str(notice.kind), queued=NOTIFY_QUEUE_LIMIT)

    def start(self) -> None:
        self._worker = asyncio.create_task(self._deliver_all(), name="notifications")

    async def stop(self, grace: float) -> None:
        """Deliver what is queued for up to ``grace`` seconds, then give up on the rest."""
        if self._worker is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), grace)
        except TimeoutError:
            self._log.warning("notice.unsent_at_stop", queued=self._queue.qsize())
        self._worker.cancel()

    async def _deliver_all(self) -> None:
        while True:
            notice, at = await self._queue.get()
            try:
                await self._deliver(notice, at)
            except Exception:  # a bug costs one notice, not the worker
                self._log.exception("notice.internal_error", notice=str(notice.kind))
            finally:
                self._queue.task_done()

    async def _deliver(self, notice: Notice, at: float) -> None:
        webhook, email = self._settings.webhook, self._settings.email
        if webhook is not None:
            await self._try("webhook", notice, webhook.attempts,
                            lambda: _post(webhook, notice.as_json(at)))
        address = self._emails().get(notice.recipient)
        if email is not None and address:
            await self._try("email", notice, email.attempts,
                            lambda: asyncio.to_thread(_mail, email, address, notice))

    async def _try(self, channel: str, notice: Notice, attempts: int,
                   send: Callable[[], Awaitable[None]]) -> None:
        delay = NOTIFY_FIRST_RETRY_SECONDS
        for attempt in range(1, attempts + 1):
            try:
                await send()
            except (OSError, httpx.HTTPError, smtplib.SMTPException) as error:
                self._log.warning("notice.failed", channel=channel, notice=str(notice.kind),
                                  attempt=attempt, attempts=attempts, error=str(error))
                if attempt < attempts:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, NOTIFY_MAX_RETRY_SECONDS)
                continue
            self.results[channel, "sent"] += 1
            self._log.info("notice.sent", channel=channel, notice=str(notice.kind),
                           recipient=notice.recipient, attempt=attempt)
            return
        self.results[channel, "failed"] += 1


async def _post(webhook: WebhookSettings, body: dict[str, Any]) -> None:
    async with httpx.AsyncClient(timeout=NOTIFY_TIMEOUT_SECONDS) as client:
        answer = await client.post(webhook.url, json=body)
        answer.raise_for_status()


def _mail(settings: EmailSettings, address: str, notice: Notice) -> None:
    """Send one e-mail (blocking: run in a thread)."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = address
    message["Subject"] = notice.subject
    message.set_content(notice.text)
    with smtplib.SMTP(settings.host, settings.port, timeout=NOTIFY_TIMEOUT_SECONDS) as smtp:
        smtp.send_message(message)

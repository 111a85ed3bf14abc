"""Real receivers for the proxy's notifications: an HTTP server taking webhook
POSTs and an SMTP server (aiosmtpd) taking e-mail, each on a loopback endpoint,
in a thread of the test process, recording what arrived."""

from __future__ import annotations

import email
import email.policy
import json
import threading
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from .loopback import Endpoint


class WebhookReceiver:
    """Answers the first ``failures`` POSTs 503 (to make the proxy retry), the rest 204."""

    def __init__(self, endpoint: Endpoint, failures: int = 0) -> None:
        self.endpoint = endpoint
        self.received: list[dict[str, Any]] = []  # the JSON bodies answered 204
        self.attempts = 0
        self._failures = failures
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.attempts += 1
                    failing = receiver.attempts <= receiver._failures
                    if not failing:
                        receiver.received.append(json.loads(body))
                self.send_response(503 if failing else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test reads ``received``

        self._server = ThreadingHTTPServer((endpoint.host, endpoint.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}/vipproxy-events"

    def events(self) -> list[str]:
        with self._lock:
            return [body["event"] for body in self.received]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5.0)


class MailReceiver:
    """An SMTP server keeping every message it was given."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler:
            async def handle_DATA(self, server: SMTP, session: Session,
                                  envelope: Envelope) -> str:
                content = envelope.content if isinstance(envelope.content, bytes) else b""
                message = email.message_from_bytes(content, policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                with receiver._lock:
                    receiver.messages.append(message)
                return "250 OK"

        self._controller = Controller(Handler(), hostname=endpoint.host, port=endpoint.port)
        self._controller.start()

    def mail(self) -> list[tuple[str, str]]:
        """(To, Subject) of every message so far."""
        with self._lock:
            return [(str(message["To"]), str(message["Subject"])) for message in self.messages]

    def stop(self) -> None:
        self._controller.stop()

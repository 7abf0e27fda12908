"""Where notifications go: a Slack-compatible webhook (HTTP POST of JSON) or e-mail over SMTP."""

from __future__ import annotations

import asyncio
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx

from zap_router.domain.notifications import Channel, Message


class SendFailed(Exception):
    pass


class WebhookSender:
    def __init__(self, client: httpx.AsyncClient, timeout_s: float = 10.0) -> None:
        self._client = client
        self._timeout = timeout_s

    async def send(self, target: str, message: Message) -> None:
        try:
            response = await self._client.post(target, json=message.slack(), timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise SendFailed(f"webhook unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 300:
            raise SendFailed(f"webhook answered {response.status_code}")


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "kxflow@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_s: float = 10.0


class SmtpSender:
    """Blocking ``smtplib`` in a worker thread: a message or a digest a minute needs no async client."""

    def __init__(self, config: SmtpConfig) -> None:
        self._config = config

    def _send_sync(self, target: str, message: Message) -> None:
        c = self._config
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = c.sender, target, message.subject
        mail.set_content(message.text or message.subject)
        with smtplib.SMTP(c.host, c.port, timeout=c.timeout_s) as smtp:
            if c.starttls:
                smtp.starttls()
            if c.username:
                smtp.login(c.username, c.password or "")
            smtp.send_message(mail)

    async def send(self, target: str, message: Message) -> None:
        try:
            await asyncio.to_thread(self._send_sync, target, message)
        except (OSError, smtplib.SMTPException) as exc:
            raise SendFailed(f"smtp: {type(exc).__name__}") from exc


class Senders:
    """The channel's sender for a rule; e-mail is refused when no SMTP server is configured."""

    def __init__(self, webhook: WebhookSender, smtp: SmtpSender | None) -> None:
        self._by_channel: dict[str, Any] = {Channel.webhook: webhook, Channel.email: smtp}

    async def send(self, channel: str, target: str, message: Message) -> None:
        sender = self._by_channel.get(channel)
        if sender is None:
            raise SendFailed(f"no sender configured for channel {channel}")
        await sender.send(target, message)

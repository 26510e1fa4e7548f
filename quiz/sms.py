"""Senders of phone codes, chosen by SMS_PROVIDER (docs/sms.md).

A sender is one class with a `send(message)` method that delivers the message or raises
Undelivered; it is built from the app's settings by `from_config(config)`. Adding a
provider is one class registered in PROVIDERS.
"""
import hashlib
import hmac
import http.client
import json
import logging
import threading
import urllib.parse
from dataclasses import dataclass

log = logging.getLogger(__name__)

PURPOSE_NAMES = {"register": "注册", "login": "登录", "reset": "重设密码"}


class Undelivered(Exception):
    """The sender could not hand the message over (the code is then not stored)."""


@dataclass(frozen=True)
class Message:
    phone: str
    code: str
    purpose: str  # "register", "login" or "reset"

    @property
    def text(self) -> str:
        return (f"【公民科学素质网络大赛】您的{PURPOSE_NAMES.get(self.purpose, '')}验证码是 {self.code}，"
                f"5 分钟内有效。请勿告诉他人。")


class ConsoleSender:
    """Writes the code to the server log: the quickstart works without an SMS gateway.
    `shows_code`: with SMS_SHOW_CODE the page that asked for the code shows it too."""

    def __init__(self, show_code: bool = False):
        self.shows_code = show_code

    @classmethod
    def from_config(cls, config) -> "ConsoleSender":
        return cls(show_code=bool(config.get("SMS_SHOW_CODE")))

    def send(self, message: Message) -> None:
        log.warning("SMS to %s (%s): %s", message.phone, message.purpose, message.text)


class WebhookSender:
    """POSTs {"phone", "code", "purpose", "text"} as JSON to the city's gateway, signed:
    X-Signature is the hex HMAC-SHA256 of the raw body under SMS_WEBHOOK_SECRET. Any answer
    but 2xx, a timeout or a refused connection is Undelivered.

    Connections to the gateway stay open between messages (HTTP/1.1 keep-alive, up to
    KEEP_IDLE idle ones a process): at a morning peak a new TCP (and TLS) connection for
    each code was a third of the code's CPU. One built per setting (from_config), so its
    connections outlive the request. The gateway is addressed directly (no HTTP_PROXY)."""

    shows_code = False
    KEEP_IDLE = 8

    def __init__(self, url: str, secret: str, timeout_s: float = 5.0):
        self.url = url
        self.secret = secret.encode()
        self.timeout_s = timeout_s
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config) -> "WebhookSender":
        return _webhook_sender(config.get("SMS_WEBHOOK_URL") or "", config.get("SMS_WEBHOOK_SECRET") or "",
                               float(config.get("SMS_WEBHOOK_TIMEOUT_S") or 5))

    def body(self, message: Message) -> bytes:
        return json.dumps({"phone": message.phone, "code": message.code, "purpose": message.purpose,
                           "text": message.text}, ensure_ascii=False).encode()

    def signature(self, body: bytes) -> str:
        return hmac.new(self.secret, body, hashlib.sha256).hexdigest()

    def send(self, message: Message) -> None:
        if not self.url.startswith(("http://", "https://")) or not self.secret:
            log.error("SMS_PROVIDER=webhook needs SMS_WEBHOOK_URL (http or https) and SMS_WEBHOOK_SECRET")
            raise Undelivered("webhook not configured")
        body = self.body(message)
        headers = {"Content-Type": "application/json; charset=utf-8", "X-Signature": self.signature(body)}
        try:
            status = self._post(body, headers)
        except (OSError, http.client.HTTPException, ValueError) as exc:  # refused, timed out, DNS, a malformed URL
            log.warning("SMS webhook unreachable: %s", type(exc).__name__)
            raise Undelivered(type(exc).__name__) from None
        if not 200 <= status < 300:
            log.warning("SMS webhook answered %s", status)
            raise Undelivered(f"status {status}")

    def close_idle(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _post(self, body: bytes, headers: dict) -> int:
        """The gateway's status for one POST, on a kept connection when there is one. A kept
        connection the gateway closed while idle fails before any answer: then once more on
        a new one (the gateway never saw the first)."""
        target = urllib.parse.urlsplit(self.url)
        path = (target.path or "/") + (f"?{target.query}" if target.query else "")
        with self._lock:
            kept = self._idle.pop() if self._idle else None
        if kept is not None:
            try:
                return self._exchange(kept, path, body, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                pass
        kind = http.client.HTTPSConnection if target.scheme == "https" else http.client.HTTPConnection
        return self._exchange(kind(target.hostname or "", target.port, timeout=self.timeout_s), path, body, headers)

    def _exchange(self, connection: http.client.HTTPConnection, path: str, body: bytes, headers: dict) -> int:
        """POST on `connection`, then keep it for the next message unless the gateway closes it."""
        try:
            connection.request("POST", path, body, headers)
            response = connection.getresponse()
            response.read()
        except BaseException:
            connection.close()
            raise
        with self._lock:
            keep = not response.will_close and len(self._idle) < self.KEEP_IDLE
            if keep:
                self._idle.append(connection)
        if not keep:
            connection.close()
        return response.status


_webhook_senders: dict[tuple, WebhookSender] = {}  # (url, secret, timeout) -> its sender and connections


def _webhook_sender(url: str, secret: str, timeout_s: float) -> WebhookSender:
    key = (url, secret, timeout_s)
    sender = _webhook_senders.get(key)
    return sender if sender is not None else _webhook_senders.setdefault(key, WebhookSender(url, secret, timeout_s))


def close_kept_connections() -> None:
    """Close the gateway connections kept open (tests; a process that stops sending)."""
    for sender in list(_webhook_senders.values()):
        sender.close_idle()


PROVIDERS = {"console": ConsoleSender, "webhook": WebhookSender}


def sender_for(config):
    """The sender SMS_PROVIDER names (an unknown name is a configuration error: Undelivered)."""
    provider = PROVIDERS.get(config.get("SMS_PROVIDER") or "console")
    if provider is None:
        log.error("unknown SMS_PROVIDER %r (known: %s)", config.get("SMS_PROVIDER"), ", ".join(PROVIDERS))
        raise Undelivered("unknown provider")
    return provider.from_config(config)

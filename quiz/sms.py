"""Senders of phone codes, chosen by SMS_PROVIDER (docs/sms.md).

A sender is one class with a `send(message)` method that delivers the message or raises
Undelivered; it is built from the app's settings by `from_config(config)`. Adding a
provider is one class registered in PROVIDERS.
"""
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
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
    but 2xx, a timeout or a refused connection is Undelivered."""

    shows_code = False

    def __init__(self, url: str, secret: str, timeout_s: float = 5.0):
        self.url = url
        self.secret = secret.encode()
        self.timeout_s = timeout_s

    @classmethod
    def from_config(cls, config) -> "WebhookSender":
        return cls(config.get("SMS_WEBHOOK_URL") or "", config.get("SMS_WEBHOOK_SECRET") or "",
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
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "X-Signature": self.signature(body)})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError) as exc:  # refused, timed out, DNS, a malformed URL
            log.warning("SMS webhook unreachable: %s", type(exc).__name__)
            raise Undelivered(type(exc).__name__) from None
        if not 200 <= status < 300:
            log.warning("SMS webhook answered %s", status)
            raise Undelivered(f"status {status}")


PROVIDERS = {"console": ConsoleSender, "webhook": WebhookSender}


def sender_for(config):
    """The sender SMS_PROVIDER names (an unknown name is a configuration error: Undelivered)."""
    provider = PROVIDERS.get(config.get("SMS_PROVIDER") or "console")
    if provider is None:
        log.error("unknown SMS_PROVIDER %r (known: %s)", config.get("SMS_PROVIDER"), ", ".join(PROVIDERS))
        raise Undelivered("unknown provider")
    return provider.from_config(config)

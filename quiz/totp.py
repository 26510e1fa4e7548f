"""Time-based one-time passwords (RFC 6238, HMAC-SHA1, 6 digits, 30 s steps) for organizers.

Any authenticator app (Google Authenticator, Microsoft Authenticator, FreeOTP)
reads the otpauth:// URI that `flask admin totp --phone P` prints.
"""
import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote

STEP_S = 30
DIGITS = 6


def new_secret() -> str:
    """A random 160-bit secret, base32 without padding (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def otpauth_uri(secret: str, account: str, issuer: str = "公民科学素质网络大赛") -> str:
    label = quote(f"{issuer}:{account}")
    return f"otpauth://totp/{label}?secret={secret}&issuer={quote(issuer)}&algorithm=SHA1&digits={DIGITS}&period={STEP_S}"


def code_at(secret: str, unix_time: float) -> str:
    """The code of the 30-second step containing unix_time (RFC 4226 dynamic truncation)."""
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    counter = struct.pack(">Q", int(unix_time // STEP_S))
    digest = hmac.new(key, counter, hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10 ** DIGITS).zfill(DIGITS)


def verify(secret: str, code, unix_time: float, drift_steps: int = 1) -> bool:
    """True when code matches the current step or one step either side (clock drift)."""
    if not secret or not isinstance(code, str):
        return False
    code = code.strip().replace(" ", "")
    # ASCII only: "１２３４５６".isdigit() is True, and compare_digest raises on non-ASCII text.
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return False
    return any(hmac.compare_digest(code_at(secret, unix_time + step * STEP_S), code)
               for step in range(-drift_steps, drift_steps + 1))

"""The 扫码参赛 invitation on the displays and the printed posters: the contest's public
address and its QR code, drawn by the app (quiz/qr.py, an inline SVG: no image request,
nothing from another site).

The code leads to the home page, not to /register: a passer-by who already has an account
logs in and starts from there, a new one finds 注册 on it, and it is the address worth
typing when the code cannot be scanned.
"""
from flask import current_app, request, url_for
from markupsafe import Markup

from quiz.qr import qr_svg

TITLE = "扫码参赛"


def contest_url() -> str:
    """The contest's home page (/, or /c/<slug>/ for a display of ?contest=SLUG) at
    PUBLIC_BASE_URL, else at the address the request came in on."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request.url_root
    return base.rstrip("/") + url_for("citizen.index")


def typed_address(url: str) -> str:
    """The address as a person types it: "https://quiz.example.org/" -> "quiz.example.org"."""
    return url.split("://", 1)[-1].rstrip("/")


def invitation() -> dict:
    """{url, address, qr}: qr is an SVG that CSS sizes (viewBox, no width or height)."""
    url = contest_url()
    return {"url": url, "address": typed_address(url), "qr": Markup(qr_svg(url, title=TITLE, scalable=True))}

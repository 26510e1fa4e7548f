"""Flask's signed-cookie sessions, with the signing serializer built once per app and key.

Flask builds an itsdangerous serializer (and its signer) on every request, cookie or not:
about a twentieth of the app's time on /healthz (docs/benchmarks.md). The cookies are the
same; a changed SECRET_KEY or SECRET_KEY_FALLBACKS builds a new serializer.
"""
from flask.sessions import SecureCookieSessionInterface


class SessionCookies(SecureCookieSessionInterface):
    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        cached = app.extensions.get("quiz_session_serializer")
        if cached is None or cached[0] != keys:
            cached = app.extensions["quiz_session_serializer"] = (keys, super().get_signing_serializer(app))
        return cached[1]

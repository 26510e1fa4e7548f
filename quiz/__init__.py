"""A city-wide citizen science-literacy quiz contest platform."""
import os

import orjson
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from quiz import auth, cli, finalizer, i18n
from quiz.config import Config
from quiz.db import embedded_postgres
from quiz.db.session import close_session_safely
from quiz.extensions import csrf, db, limiter, login_manager, migrate
from quiz.redis_connection import RedisConnection
from quiz.web import admin, api, citizen, contest_scope, display, errors, security
from quiz.web.session_cookie import SessionCookies


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with the bodies of JSON responses written by orjson (a submit's result
    carries twenty reviewed questions). Same output as Flask's in production: sorted keys,
    compact, Chinese unescaped, a final newline; dates and anything else orjson does not
    know go through Flask's `default`."""

    ensure_ascii = False  # Chinese text stays readable in JSON
    _OPTIONS = (orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                | orjson.OPT_PASSTHROUGH_DATACLASS)

    def response(self, *args, **kwargs):
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)  # indented for people reading it
        body = orjson.dumps(self._prepare_response_obj(args, kwargs), default=self.default, option=self._OPTIONS)
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)


class QuizFlask(Flask):
    json_provider_class = JSONProvider
    session_interface = SessionCookies()

    def ensure_sync(self, func):
        """Flask's, remembered per function: Flask asks inspect whether each of a request's
        dozen hooks is a coroutine function on every request (docs/benchmarks.md)."""
        known = self.__dict__.setdefault("_quiz_sync", {})
        try:
            return known[func]
        except KeyError:
            known[func] = made = super().ensure_sync(func)
            return made
        except TypeError:  # an unhashable callable
            return super().ensure_sync(func)


def create_app(config=None) -> Flask:
    """Build the app: config -> extensions -> blueprints -> CLI. No I/O here."""
    app = QuizFlask(__name__, instance_path=os.environ.get("QUIZ_INSTANCE_PATH") or None)
    app.config.from_object(config or Config(app.instance_path))
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    connection = RedisConnection(app.config["REDIS_URL"], app.instance_path)
    app.extensions["quiz_redis"] = connection
    app.config.setdefault("RATELIMIT_STORAGE_URI", connection.limiter_storage_uri())
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_timeout": 0.5, "socket_connect_timeout": 0.5})
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    db.init_app(app)
    embedded_postgres.init_app(app)
    app.teardown_appcontext(close_session_safely)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)  # zh_CN messages from quiz/translations
    finalizer.init_app(app)  # hands in abandoned attempts in the background


def register_blueprints(app: Flask) -> None:
    security.init_app(app)
    errors.init_app(app)
    app.register_blueprint(citizen.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(display.bp)
    security.guard_starts_and_saves(app)
    contest_scope.install(app)  # /c/<slug>/… and /api/v1/contests/<slug>/… twins of the contest paths


def register_commands(app: Flask) -> None:
    cli.init_app(app)

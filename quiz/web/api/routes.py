import contextlib

from flask import Blueprint, Response, current_app, jsonify, request

from quiz import freeze, groups, leaderboard, phone_codes, units
from quiz.accounts import (
    AccountError,
    Caller,
    CodeLoginRefused,
    authenticate,
    issue_token,
    mask_name,
    register_citizen,
    reset_password,
    revoke_token,
    send_code,
    token_by_code,
)
from quiz.auth import (
    SecondFactorRefused,
    api_granted_holder,
    api_token_holder,
    api_user,
    bearer_token,
    public,
    token_second_factor,
)
from quiz.awards import winners as award_winners
from quiz.bank.importer import import_bank
from quiz.bank.spreadsheet import XLSX_MIMETYPE
from quiz.bank.validator import BankInvalid
from quiz.clock import iso, utcnow
from quiz.contest import attempts as attempt_rules
from quiz.contest import question_clock
from quiz.contest.errors import ContestError, NoContest, NotSignedIn
from quiz.contest.rules import contests_by_phase
from quiz.extensions import csrf, db
from quiz.models import ROLE_CITY, Attempt
from quiz.objections import about_label, file_objection, objection_deadline, own_objections, window_blocker
from quiz.web import security
from quiz.web.api.openapi import spec
from quiz.web.audit import record as audit
from quiz.web.contest_cache import requested_contest_cached
from quiz.web.contest_scope import requested_contest
from quiz.web.errors import json_error

bp = Blueprint("api", __name__, url_prefix="/api")

csrf.exempt(bp)


class ApiUnauthorized(Exception):
    pass


@bp.errorhandler(ContestError)
def contest_error(exc: ContestError):
    if isinstance(exc, NotSignedIn):
        return unauthorized(exc)
    extra = {"field": exc.field} if getattr(exc, "field", None) else {}
    return json_error(exc.status, exc.code, exc.message, **extra)


@bp.errorhandler(AccountError)
def account_error(exc: AccountError):
    if exc.code == "phone_taken":
        return json_error(409, "phone_taken", exc.message)
    return json_error(422, "invalid", exc.message, field=exc.field)


@bp.errorhandler(ApiUnauthorized)
def unauthorized(_exc):
    response = json_error(401, "unauthorized", "需要有效的访问令牌（Authorization: Bearer <token>）。")
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def require_user():
    user = api_user()
    if user is None:
        raise ApiUnauthorized()
    return user


def bearer_caller() -> Caller:
    """The bearer token as the attempt statements check it (in the same statement as the work)."""
    token = bearer_token()
    if token is None:
        raise ApiUnauthorized()
    return Caller.bearer(token)


@contextlib.contextmanager
def unauthorized_first():
    """A bad token answers 401 before any complaint about the request: the statements check
    the token first, but a request refused before it reaches them is checked here."""
    try:
        yield
    except ContestError as exc:
        if not isinstance(exc, NotSignedIn) and api_token_holder() is None:
            raise ApiUnauthorized() from None
        raise


def json_body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ContestError("请求体必须是 JSON 对象。")
    return data


def the_contest():
    contest = requested_contest(db.session, utcnow())
    if contest is None:
        raise NoContest("目前没有竞赛。")
    return contest


def attempt_json(attempt: Attempt, now, with_questions: bool) -> dict:
    body = {"id": attempt.id, "status": attempt.status, "practice": attempt.practice,
            "started_at": iso(attempt.started_at), "deadline": iso(attempt.deadline),
            "seconds_left": attempt_rules.seconds_left(attempt, now) if not attempt.finished else 0}
    shown = question_clock.current(attempt, now) if not attempt.finished else None
    if shown is not None:  # a clock per question: the current question only
        body |= {"question_time_s": attempt.question_time_s, "position": shown.position + 1,
                 "question_count": attempt.question_count, "question_deadline": iso(shown.deadline),
                 "question_seconds_left": shown.seconds_left(now)}
    if with_questions and not attempt.finished:
        items = [attempt.items[shown.position]] if shown is not None else attempt.items
        body["questions"] = [question_json(item) for item in items]
    if attempt.finished:
        as_of = freeze.frozen_at(attempt.contest, now)
        rank = None if attempt.practice else leaderboard.rank_or_none(attempt.contest, attempt.user, as_of)
        body["result"] = attempt_rules.result_payload(attempt, rank) | leaderboard.frozen_fields(as_of)
    return body


JUDGE_OPTIONS = [{"key": "true", "text": "正确"}, {"key": "false", "text": "错误"}]


def question_json(item) -> dict:
    """What the citizen sees of a question: never the answer or the explanation."""
    question = item.question
    options = JUDGE_OPTIONS if question.type == "judge" else attempt_rules.display_options(item)
    return {"id": question.qid, "type": question.type, "stem": question.stem, "options": options,
            "choices": attempt_rules.to_display(item, item.choices)}


# ---- accounts ---------------------------------------------------------------

@bp.errorhandler(phone_codes.CodeRateLimited)
def code_rate_limited(exc: phone_codes.CodeRateLimited):
    response = json_error(429, "rate_limited", exc.message)
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


@bp.errorhandler(phone_codes.CodeUndelivered)
def code_undelivered(exc: phone_codes.CodeUndelivered):
    return json_error(503, "unavailable", exc.message)


@bp.post("/v1/auth/code")
@public
@security.REGISTER_PER_IP  # an address's budget (shared with registration); per phone: phone_codes
def code():
    """Send a 6-digit code (202), the same answer whether or not the phone is registered."""
    data = json_body()
    issued = send_code(db.session, data.get("phone"), data.get("purpose"), utcnow())
    return jsonify({"sent": True, "retry_after_s": issued.retry_after_s}), 202


@bp.post("/v1/auth/register")
@public
@security.REGISTER_PER_IP
def register():
    data = json_body()
    contest = requested_contest_cached(db.session)  # only read: its districts, groups, units and townships
    if contest is None:
        raise NoContest("目前没有竞赛。")
    user = register_citizen(
        db.session, data.get("phone"), data.get("name"), data.get("district"), data.get("password"),
        data.get("group"), data.get("unit"), {d["code"] for d in contest.districts}, utcnow(),
        verify_phone=current_app.config["PHONE_VERIFICATION"], code=data.get("code"),
        township=data.get("township"), contest=contest, address=security.client_address(),
    )
    return jsonify({"user": {"id": user.id, "name_masked": mask_name(user.name), "district": user.district,
                             "unit": user.unit_code or user.unit, "township": user.township}}), 201


@bp.post("/v1/auth/token")
@public
@security.token_limits  # the login budgets (shared with /login) and the TOTP budget (shared with /login/totp)
def token():
    """A bearer token for {"phone", "password"} or, for citizens, {"phone", "code"} (a login
    code); with ADMIN_REQUIRE_TOTP an organizer also sends "totp" (the 6-digit code)."""
    data = json_body()
    if "code" in data and "password" not in data:
        try:
            issued = token_by_code(db.session, data.get("phone"), data.get("code"), utcnow(),
                                   current_app.config["API_TOKEN_TTL_S"])
        except AccountError as exc:
            security.note_login(False)
            return json_error(401, "unauthorized", exc.message, field=exc.field)
        except CodeLoginRefused:
            security.note_login(False)
            return json_error(401, "unauthorized", "组织者请使用密码登录。", field="code")
        security.note_login(issued is not None)
        if issued is None:
            return json_error(401, "unauthorized", "手机号或验证码不正确。", field="code")
        value, expires = issued
        return jsonify({"token": value, "expires_at": iso(expires)})
    user = authenticate(db.session, data.get("phone"), data.get("password"))
    security.note_login(user is not None)
    if user is None:
        return json_error(401, "unauthorized", "手机号或密码不正确。")
    try:
        second_factor = token_second_factor(user, data.get("totp"))
    except SecondFactorRefused:
        return json_error(401, "unauthorized", "组织者需要同时提供动态验证码（totp）。", field="totp")
    value, expires = issue_token(db.session, user, utcnow(), current_app.config["API_TOKEN_TTL_S"], second_factor)
    return jsonify({"token": value, "expires_at": iso(expires)})


@bp.post("/v1/auth/reset")
@public
@security.login_limits  # a wrong code is a failed login
def reset():
    """A new password by a reset code: every token and session of the account ends."""
    data = json_body()
    try:
        user = reset_password(db.session, data.get("phone"), data.get("code"), data.get("password"), utcnow())
    except AccountError:
        security.note_login(False)
        raise
    security.note_login(True)
    return jsonify({"user": {"id": user.id, "name_masked": mask_name(user.name)}, "reset": True})


@bp.delete("/v1/auth/token")
@public
def revoke():
    """Sign this app out: the caller's own token stops working (204); other tokens stay."""
    token = bearer_token()
    if token is None or api_token_holder() is None:
        raise ApiUnauthorized()
    revoke_token(db.session, token)
    return "", 204


# ---- the contest and attempts -----------------------------------------------

@bp.get("/v1/contest")
@public
def contest():
    c = the_contest()
    return jsonify({
        "slug": c.slug, "title": c.title, "theme": c.theme, "starts_at": iso(c.starts_at), "ends_at": iso(c.ends_at),
        "time_limit_s": c.time_limit_s, "question_time_s": c.question_time_s,
        "questions_per_attempt": c.questions_per_attempt,
        "attempts_per_day": c.attempts_per_day, "max_attempts": c.max_attempts,
        "districts": [{"code": d["code"], "name": d["name"]} for d in c.districts],
        "groups": [{"code": g["code"], "name": g["name"]} for g in groups.listed(c)],
        "freeze_at": iso(c.freeze_at), **leaderboard.frozen_fields(freeze.frozen_at(c, utcnow())),
    })


@bp.get("/v1/contests")
@public
def contests():
    """Every contest with its phase (open, upcoming, ended); each is served under /api/v1/contests/<slug>."""
    now = utcnow()
    return jsonify({"contests": [
        {"slug": c.slug, "title": c.title, "phase": key, "featured": c.featured,
         "starts_at": iso(c.starts_at), "ends_at": iso(c.ends_at)}
        for key, listed in contests_by_phase(db.session, now).items() for c in listed]})


@bp.post("/v1/attempts")
@public
def start():
    holder = api_granted_holder()
    if holder is None:
        raise ApiUnauthorized()
    contest = requested_contest_cached(db.session)  # its window is checked against `now`
    if contest is None:
        raise NoContest("目前没有竞赛。")
    now = utcnow()
    attempt, created = attempt_rules.begin_attempt(db.session, holder, contest, now,
                                                   address=security.client_address())
    return jsonify({"attempt": attempt_json(attempt, now, with_questions=True)}), 201 if created else 200


@bp.put("/v1/attempts/<attempt_id>/answers/<question_id>")
@public
def save(attempt_id, question_id):
    """One statement checks the token and saves (the hot path at a city's peak)."""
    caller = bearer_caller()
    with unauthorized_first():
        data = json_body()
        if "choices" not in data:
            raise attempt_rules.InvalidAnswer("choices is required")
        attempt_rules.save_answer(db.session, caller, attempt_id, question_id, data["choices"], utcnow())
    return jsonify({"saved": True})


@bp.post("/v1/attempts/<attempt_id>/submit")
@public
def submit(attempt_id):
    contest = requested_contest_cached(db.session)
    caller = bearer_caller()
    with unauthorized_first():
        graded = attempt_rules.submit_attempt(db.session, caller, attempt_id, utcnow(), contest=contest)
    graded_contest = attempt_rules.contest_of(db.session, graded, contest)
    as_of = freeze.frozen_at(graded_contest, utcnow())
    if as_of is not None:  # while frozen the citizen's rank is the one at the freeze
        rank = None if graded.practice else leaderboard.rank_or_none(graded_contest, graded.holder, as_of)
    else:
        rank = None if graded.practice else graded.rank or leaderboard.rank_or_none(graded_contest, graded.holder)
    return jsonify({"result": attempt_rules.result_payload(graded, rank) | leaderboard.frozen_fields(as_of)})


@bp.get("/v1/attempts/<attempt_id>")
@public
def show(attempt_id):
    user = require_user()
    now = utcnow()
    attempt_rules.finalize_user_expired(db.session, user, now)
    attempt = attempt_rules.get_attempt(db.session, user, attempt_id)
    return jsonify({"attempt": attempt_json(attempt, now, with_questions=True)})


@bp.post("/v1/attempts/<attempt_id>/next")
@public
def next_question(attempt_id):
    """A clock per question: leave the current question (one way); on the last, hand in.
    An optional JSON {"position": n} (1-based, the question the client shows) makes a
    repeated request move on once."""
    user = require_user()
    data = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(data, dict):
        raise ContestError("请求体必须是 JSON 对象。")
    position = data.get("position")
    if position is not None and not (isinstance(position, int) and not isinstance(position, bool) and position >= 1):
        raise ContestError("position must be a question number from 1")
    now = utcnow()
    attempt = attempt_rules.next_question(db.session, user, attempt_id, now,
                                          leaving=None if position is None else position - 1)
    return jsonify({"attempt": attempt_json(attempt, now, with_questions=True)})


# ---- leaderboards -------------------------------------------------------------

def _int_arg(name: str, default: int, low: int, high: int | None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _Invalid(name) from None
    if value < low or (high is not None and value > high):
        raise _Invalid(name)
    return value


class _Invalid(Exception):
    def __init__(self, field):
        self.field = field


@bp.errorhandler(_Invalid)
def invalid_param(exc: _Invalid):
    return json_error(422, "invalid", f"参数 {exc.field} 的取值无效。", field=exc.field)


def board_unavailable():
    return json_error(503, "unavailable", "排行榜暂时不可用，成绩已安全保存，稍后将自动恢复。")


def board_contest():
    """The current contest for the hot leaderboard reads: cached for a second per process."""
    contest = requested_contest_cached(db.session)
    if contest is None:
        raise NoContest("目前没有竞赛。")
    return contest


@bp.get("/v1/leaderboard")
@public
def board():
    c = board_contest()
    limit = _int_arg("limit", 20, 1, 100)
    offset = _int_arg("offset", 0, 0, 10_000_000)  # bounded: Redis rejects 64-bit overflow as an error, not "empty"
    district = request.args.get("district") or None
    if district is not None and district not in c.district_names():
        raise _Invalid("district")
    group = request.args.get("group") or None  # a contest group's board (quiz/groups.py); not with district
    if group is not None and (group not in groups.codes(c) or district is not None):
        raise _Invalid("group")
    leaderboard.catch_up(db.session, c)
    try:
        body = leaderboard.top_json(c, district, limit, offset, freeze.frozen_at(c, utcnow()), group)
    except leaderboard.Unavailable:
        return board_unavailable()
    return Response(body, mimetype="application/json")


@bp.get("/v1/units")
@public
def unit_board():
    c = board_contest()
    district = request.args.get("district") or None
    if district is not None and district not in c.district_names():
        raise _Invalid("district")
    return Response(units.unit_board_json(db.session, c, district, freeze.frozen_at(c, utcnow())),
                    mimetype="application/json")


@bp.get("/v1/districts")
@public
def districts():
    c = board_contest()
    leaderboard.catch_up(db.session, c)
    as_of = freeze.frozen_at(c, utcnow())
    try:
        return jsonify({"districts": units.district_standings(db.session, c, as_of), "rank_by": leaderboard.rank_by(c),
                        **leaderboard.frozen_fields(as_of)})
    except leaderboard.Unavailable:
        return board_unavailable()


@bp.get("/v1/me")
@public
def me():
    now = utcnow()
    token = bearer_token()
    if token is None:
        raise ApiUnauthorized()
    c = requested_contest_cached(db.session)
    if c is None:
        if api_token_holder() is None:
            raise ApiUnauthorized()  # a bad token is still a 401 first
        raise NoContest("目前没有竞赛。")
    found = attempt_rules.holder_allowance(db.session, token, c, now)
    if found is None:
        raise ApiUnauthorized()
    user, counts = found
    leaderboard.catch_up(db.session, c)
    as_of = freeze.frozen_at(c, now)
    try:
        standing = leaderboard.standing(c, user, as_of)
    except leaderboard.Unavailable:  # the best still comes from SQL; the ranks need Redis
        standing = {"best": None, "rank": {"city": None, "district": None}, "unavailable": True}
    if standing.pop("unavailable", False) or as_of is not None:  # frozen: own new results count here
        standing["best"] = attempt_rules.best_from_sql(db.session, user, c)
    return jsonify({**standing, **leaderboard.frozen_fields(as_of),
                    "attempts_today": counts.today, "attempts_left_today": counts.left_today})


# ---- 公示 and objections (docs/awards.md) -------------------------------------------

@bp.get("/v1/awards")
@public
def awards():
    """The published winners list (masked), or only when it is published."""
    c = the_contest()
    published = c.awards_published_at is not None
    names = c.district_names()
    return jsonify({
        "contest": c.slug, "ends_at": iso(c.ends_at), "published": published,
        "published_at": iso(c.awards_published_at), "objection_deadline": iso(objection_deadline(c)),
        "final": published and window_blocker(c, utcnow()) is not None,
        "awards": [{"id": w.award.id, "tier": w.award.tier, "name_masked": w.name_masked, "phone_masked": w.phone_masked,
                    "district": names.get(w.user.district, w.user.district), "unit": w.user.unit}
                   for w in (award_winners(db.session, c) if published else [])],
    })


def objection_json(contest, objection) -> dict:
    return {"id": objection.id, "about": objection.about, "about_label": about_label(db.session, contest, objection.about),
            "text": objection.text, "created_at": iso(objection.created_at), "answer": objection.answer,
            "answered_at": iso(objection.answered_at)}


@bp.post("/v1/objections")
@public  # the bearer token is required below
def objection_file():
    user = require_user()
    data = json_body()
    c = requested_contest(db.session, utcnow())
    objection = file_objection(db.session, c, user, data.get("about"), data.get("text"), utcnow())
    return jsonify(objection_json(c, objection)), 201


@bp.get("/v1/objections")
@public  # the bearer token is required below
def objection_list():
    user = require_user()
    c = requested_contest(db.session, utcnow())
    return jsonify({"objections": [objection_json(c, o) for o in own_objections(db.session, c, user)]})


# ---- organizers ----------------------------------------------------------------

@bp.post("/v1/admin/banks")
@public  # guarded below by the bearer token's role
def upload_bank():
    user = require_user()
    if user.role != ROLE_CITY:
        return json_error(403, "forbidden", "只有市级组织者可以上传题库。")
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            return json_error(422, "invalid", "缺少文件字段 file。", field="file")
        raw, filename = upload.read(), upload.filename or "upload.yaml"
    elif request.mimetype in ("application/x-yaml", "application/yaml", "text/yaml", "text/x-yaml"):
        raw, filename = request.get_data(), request.headers.get("X-Filename", "upload.yaml")
    elif request.mimetype == XLSX_MIMETYPE:
        raw, filename = request.get_data(), request.headers.get("X-Filename", "upload.xlsx")
    else:
        return json_error(415, "unsupported_media_type",
                          f"请以 application/x-yaml、{XLSX_MIMETYPE} 或 multipart 字段 file 上传。")
    try:
        outcome = import_bank(db.session, raw, filename, current_app.config["BANK_MAX_BYTES"])
    except BankInvalid as exc:
        return jsonify({"errors": [p.as_json() for p in exc.problems]}), 422
    if outcome.created:
        audit(db.session, user, "bank.import", f"{outcome.bank.slug} v{outcome.bank.version} ({filename})")
    bank = outcome.bank
    return jsonify({"bank": {"slug": bank.slug, "version": bank.version, "title": bank.title},
                    "created": outcome.created, "counts": outcome.counts,
                    "message": "imported" if outcome.created else "unchanged: this file was already imported"}), \
        201 if outcome.created else 200


@bp.get("/openapi.json")
@public
def openapi():
    return jsonify(spec())

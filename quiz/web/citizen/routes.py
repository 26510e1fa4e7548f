"""Citizen pages: register, log in, the timed quiz, results, my attempts, practice.

Server-rendered and usable without JavaScript; static/quiz.js only adds autosave
and the ticking countdown. The answer keys and explanations reach the page only
once an attempt is finished (result page).

Stable element ids and names (the Playwright e2e tests drive the pages by these;
keep them when restyling):
    every page      <html lang="zh-CN" class="big-text"?>, nav links #nav-login #nav-register #nav-me,
                    logout form #logout-form with button #logout (POST /logout),
                    large-text toggle link #text-size-toggle, flashed messages .flash (.flash-error / .flash-info)
    /register       form #register-form, fields phone name district group unit password consent,
                    button #register-submit; a field's error is p.field-error#<field>-error; a registered
                    phone adds p#phone-taken-login with link #phone-taken-login-link (登录)
    429             a rate limit: p#retry-after (wait) on the error page; a register/login/code-login/reset
                    POST comes back as its form with the typed values kept and p#rate-limited (wait)
    /login          form #login-form, fields phone password remember, button #login-submit,
                    failed login p.form-error#login-error; with PHONE_VERIFICATION first 验证码登录:
                    form #code-login-form (POST /login/code), fields phone code remember (ids code-login-*),
                    button #code-login-submit, p.form-error#code-login-error; link #forgot-password
    获取验证码       button.code-button (name=action value=send-code: the no-JS step) in the register,
                    code-login and /reset forms; p#code-sent once sent (#shown-code with SMS_SHOW_CODE)
    /reset          form #reset-form, fields phone code password, button #reset-submit
    /               button #start-quiz (form #start-form, POST /quiz/start) when a start is possible,
                    link #resume-quiz when an attempt is running, p#start-blocked with the reason otherwise,
                    link #login-to-start when logged out
    /quiz           form #quiz-form (data-save-url: autosave endpoint), each question
                    <fieldset class="question" data-qid="...">, inputs name="q-<qid>" value=A.. or true/false,
                    #countdown (data-deadline ISO, data-seconds-left), #answered-count, #question-count,
                    buttons #save-answers (name=action value=save) and #submit-quiz (name=action value=confirm:
                    saves, then the confirmation page; quiz.js asks in a dialog and sends action=submit),
                    hidden input #auto-field (name=auto, 1 when the countdown handed in); after hand-in
                    GET /quiz (Back, reload) redirects to that attempt's result for an hour
    /quiz/<id>/hand-in  确认交卷 without JavaScript: #hand-in-answered, form #hand-in-form (action=submit confirm=1),
                    button #confirm-submit, link #back-to-quiz
                    a clock per question (question_time_s): one fieldset.question only, #question-position,
                    #question-count, #countdown for that question, hidden #position-field (name=position, from 0),
                    button #next-question (name=action value=next) or, on the last question, #submit-quiz
                    (value=confirm, as above)
    /result/<id>    #score, #time-used, #rank-city, #rank-district (timed attempts only), #auto-submitted,
                    ol#review with li.review-item.correct|.wrong (#review-<n>), .verdict (✓ 正确 / ✗ 错误),
                    options li.is-chosen (.is-wrong-choice: .tag-wrong ✗ 您的选择（错误）), .is-answer,
                    details.explanation (folded); links #review-all and #review-wrong (?wrong=1, 只看错题);
                    practice: form #practice-again-form, button #practice-again (再练一次)
    /me             #best-result with p#attempts-left (today and in total), ul#my-attempts with li.attempt-item, links .attempt-link,
                    form #details-form (fields name unit, button #details-submit) or p#details-locked,
                    link #close-account to /me/close: form #close-form, checkbox confirm, button #close-submit
                    link #download-certificate (GET /me/certificate.pdf) when the citizen has a certificate
    /certificates/<code>  p#certificate-valid or #certificate-invalid, #certificate-name #certificate-contest
                    #certificate-prize; /me/certificate.pdf without one: p#certificate-refusal (403/404)
    /practice       button #start-practice (POST /practice/start), then the same #quiz-form without #countdown;
                    p#practice-blocked with the reason instead of the button when practice is refused
    /awards         #awards-pending before 公示; after: #awards-published, #published-at, #objection-deadline or
                    #awards-final, li.winner#award-<id>; form #objection-form (POST /awards/objections, fields
                    about text, errors #about-error #text-error, button #objection-submit); #my-objections
"""
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    has_request_context,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from quiz import figures, freeze, leaderboard, personal_data, phone_codes
from quiz.accounts import (
    AccountError,
    CodeLoginRefused,
    authenticate,
    authenticate_by_code,
    mask_name,
    mask_phone,
    register_citizen,
    reset_password,
    send_code,
)
from quiz.auth import citizen_login_required, public, remember_for, signed_in
from quiz.awards import by_tier, draws, tier_rule, winners
from quiz.certificates import (
    NoCertificate,
    certificate_for,
    certificate_offer,
    certificate_pdf,
    download_filename,
    issue_certificate,
    verification_url,
    verify_certificate,
)
from quiz.clock import iso, local, utcnow
from quiz.contest import attempts as attempt_rules
from quiz.contest import question_clock
from quiz.contest.errors import AttemptNotFound, ContestError, DeadlinePassed, NoContest
from quiz.contest.rules import ENDED, contests_by_phase, phase
from quiz.extensions import db
from quiz.models import Attempt, Contest
from quiz.objections import InvalidObjection, about_label, file_objection, objection_deadline, own_objections, window_blocker
from quiz.web import security
from quiz.web.citizen.board import board_page
from quiz.web.citizen.forms import ActionForm, CodeLoginForm, LoginForm, RegisterForm, ResetForm, VerifiedRegisterForm
from quiz.web.contest_scope import requested_contest
from quiz.web.display.routes import public_view
from quiz.web.display.routes import snapshot as display_snapshot
from quiz.web.security import safe_next

bp = Blueprint("citizen", __name__)

TEXT_SIZE_COOKIE = "text_size"
TYPE_NAMES = {"single": "单选题", "multiple": "多选题", "judge": "判断题"}


# ---- shared by every page ------------------------------------------------------

@bp.app_context_processor
def layout_context():
    """What base.html needs on every page, including the admin and display pages."""
    big_text = has_request_context() and request.cookies.get(TEXT_SIZE_COOKIE) == "large"
    return {"big_text": big_text, "mask_name": mask_name}


@bp.app_template_filter("shanghai_time")
def shanghai_time(moment, fmt="%Y年%m月%d日 %H:%M") -> str:
    """A stored naive-UTC datetime as Asia/Shanghai wall time."""
    return local(moment).strftime(fmt) if moment else ""


@bp.app_template_filter("duration_ms")
def duration_ms(ms) -> str:
    """Time used as every page shows it: quiz.figures.time_used_text (m:ss, nearest second)."""
    return figures.time_used_text(ms)


@bp.before_request
def finish_expired_attempts():
    # An attempt whose time ran out while the citizen was away is handed in when they come back.
    if signed_in():
        attempt_rules.finalize_user_expired(db.session, current_user, utcnow())


@bp.errorhandler(ContestError)
def contest_error(exc: ContestError):
    flash(exc.message, "error")
    return redirect(url_for("citizen.index"))


@bp.errorhandler(CSRFError)
def csrf_error(_exc):
    if request.is_json:
        return jsonify({"error": {"code": "csrf", "message": "页面已过期，请刷新后重试。"}}), 400
    flash("页面已过期，请重新提交。", "error")
    rule = request.url_rule
    return redirect(request.path if rule is not None and "GET" in rule.methods else url_for("citizen.index"))


def the_contest():
    contest = requested_contest(db.session, utcnow())
    if contest is None:
        raise NoContest("目前没有竞赛。")
    return contest


# ---- public pages ----------------------------------------------------------------

@bp.get("/")
@public
def index():
    now = utcnow()
    contest = requested_contest(db.session, now)
    state = phase(contest, now) if contest else None
    active = blocker = None
    left_today = None
    if contest is not None and current_user.is_authenticated:
        active = attempt_rules.active_attempt(db.session, current_user, contest)
        if active is None:
            blocker = attempt_rules.start_blocker(db.session, current_user, contest, now)
        left_today = attempt_rules.attempt_allowance(db.session, current_user, contest, now).left_today
    return render_template("citizen/index.html", contest=contest, phase=state, active=active, blocker=blocker,
                           left_today=left_today, form=ActionForm(), others=other_contests(now, contest),
                           final=final_board(contest) if state == ENDED else None)


def other_contests(now, shown: Contest | None) -> dict[str, list[Contest]]:
    """Open, upcoming and ended contests for the home page, without the one it shows."""
    return {key: [c for c in listed if shown is None or c.id != shown.id]
            for key, listed in contests_by_phase(db.session, now).items()}


def final_board(contest: Contest) -> dict:
    """An ended contest's final boards for its archive page: what its display shows (the top
    20 and the districts, at the freeze while still frozen)."""
    leaderboard.catch_up(db.session, contest)
    return display_snapshot(contest, None, public_view(contest))


@bp.get("/text-size")
@public
def text_size():
    """The 大字模式 switch: a cookie read by base.html, so it works without JavaScript."""
    size = "large" if request.args.get("size") == "large" else "normal"
    response = make_response(redirect(safe_next(request.args.get("next"), url_for("citizen.index"))))
    response.set_cookie(TEXT_SIZE_COOKIE, size, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=request.is_secure)
    return response


@bp.get("/healthz")
@public
def healthz():
    return {"status": "ok"}


@bp.get("/board")
@public
def board():
    """排行榜: the top 100 of the city or of ?district=<code>, and the citizen's own rank (citizen/board.py)."""
    return board_page(request.args.get("district") or None)


# ---- accounts ----------------------------------------------------------------------

@bp.route("/register", methods=["GET", "POST"])
@public
@security.REGISTER_PER_IP
def register():
    if current_user.is_authenticated:
        return redirect(url_for("citizen.index"))
    contest = requested_contest(db.session, utcnow())
    verify = current_app.config["PHONE_VERIFICATION"]
    form = registration_form(contest)
    sent = None
    phone_taken = False  # the duplicate-phone error links to 登录
    if contest is not None and verify and code_step_asked():
        sent = send_code_step(form, "register")
    elif contest is not None and form.validate_on_submit():
        try:
            user = register_citizen(
                db.session, form.phone.data, form.name.data, form.district.data, form.password.data or None,
                form.group.data or None, form.unit.data or None, {d["code"] for d in contest.districts}, utcnow(),
                township=form.township.data or None, contest=contest,
                verify_phone=verify, code=form.code.data if verify else None, address=security.client_address(),
            )
        except AccountError as exc:
            getattr(form, exc.field).errors.append(exc.message)
            phone_taken = exc.code == "phone_taken"
        else:
            login_user(user)
            flash("注册成功，欢迎参赛！", "info")
            return redirect(url_for("citizen.index"))
    return render_template("citizen/register.html", form=form, contest=contest, sent=sent, phone_taken=phone_taken)


def registration_form(contest):
    """The register form (bound to the request's form data) with the contest's districts and units."""
    form = VerifiedRegisterForm() if current_app.config["PHONE_VERIFICATION"] else RegisterForm()
    form.set_districts(contest.districts if contest else [])
    form.set_units(contest)
    form.set_groups(contest)
    return form


# ---- phone codes: the 获取验证码 step of the register, code-login and reset forms ----------

def code_step_asked() -> bool:
    """The form's 获取验证码 button (the no-JavaScript step) was pressed, not its submit."""
    return request.method == "POST" and request.form.get("action") == "send-code"


def send_code_step(form, purpose: str) -> dict | None:
    """Check only the phone (CSRF is checked for every form POST), send a code and say so
    beside the code field: {"message", "shown_code", "retry_after_s"} once sent, else None
    with the phone's or the code's error on the form."""
    if not form.phone.validate(form):
        return None
    try:
        issued = send_code(db.session, form.phone.data, purpose, utcnow())
    except AccountError as exc:
        field = getattr(form, exc.field, form.phone)
        field.errors = [*field.errors, exc.message]  # () until the field is validated
        return None
    except (phone_codes.CodeRateLimited, phone_codes.CodeUndelivered) as exc:
        form.code.errors = [*form.code.errors, exc.message]
        return None
    return {"message": f"验证码已发送至 {mask_phone(issued.phone)}，5 分钟内有效。", "shown_code": issued.shown_code,
            "retry_after_s": issued.retry_after_s}


@bp.post("/code")
@public
@security.REGISTER_PER_IP  # the address's budget, shared with registration and the API
def code():
    """The countdown button's request (static/code.js): the same step, answered in JSON."""
    purpose = request.form.get("purpose")
    if purpose not in phone_codes.PURPOSES:
        return jsonify({"error": {"code": "invalid", "message": "purpose 无效。", "field": "purpose"}}), 422
    try:
        issued = send_code(db.session, request.form.get("phone"), purpose, utcnow())
    except AccountError as exc:
        return jsonify({"error": {"code": "invalid", "message": exc.message, "field": exc.field}}), 422
    except phone_codes.CodeRateLimited as exc:
        response = jsonify({"error": {"code": "rate_limited", "message": exc.message}})
        response.headers["Retry-After"] = str(exc.retry_after_s)
        return response, 429
    except phone_codes.CodeUndelivered as exc:
        return jsonify({"error": {"code": "unavailable", "message": exc.message}}), 503
    body = {"sent": True, "retry_after_s": issued.retry_after_s,
            "message": f"验证码已发送至 {mask_phone(issued.phone)}，5 分钟内有效。"}
    if issued.shown_code:
        body["shown_code"] = issued.shown_code
    return jsonify(body), 202


@bp.route("/login", methods=["GET", "POST"])
@public
@security.login_limits  # shared with /api/v1/auth/token
def login():
    next_page = safe_next(request.args.get("next"), url_for("citizen.index"))
    if current_user.is_authenticated:
        return redirect(next_page)
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        user = authenticate(db.session, form.phone.data, form.password.data)
        security.note_login(user is not None)
        if user is None:
            failed = True  # one message for an unknown phone and a wrong password
        else:
            login_user(user, remember=form.remember.data, duration=remember_for(user))
            if user.is_organizer and not request.args.get("next"):
                next_page = url_for("admin.dashboard")  # organizers start in their console
            return redirect(next_page)
    return login_page(form=form, failed=failed)


def login_page(form=None, failed=False, code_form=None, code_error=None, sent=None):
    """The login page: 验证码登录 first (with PHONE_VERIFICATION), then the password form."""
    return render_template("citizen/login.html", form=form or LoginForm(), failed=failed,
                           code_login=current_app.config["PHONE_VERIFICATION"],
                           code_form=code_form or CodeLoginForm(), code_error=code_error, sent=sent), 200


@bp.post("/login/code")
@public
@security.login_limits  # the login budgets: a wrong code counts as a failed login
def login_code():
    """验证码登录 (citizens): the 获取验证码 step, then the code."""
    next_page = safe_next(request.args.get("next"), url_for("citizen.index"))
    if current_user.is_authenticated:
        return redirect(next_page)
    form = CodeLoginForm()
    if code_step_asked():
        return login_page(code_form=form, sent=send_code_step(form, "login"))
    error = None
    if form.validate_on_submit():
        try:
            user = authenticate_by_code(db.session, form.phone.data, form.code.data, utcnow())
        except AccountError as exc:
            error = exc.message
        except CodeLoginRefused:
            error = "组织者账号请使用密码登录。"
        else:
            if user is None:
                error = "手机号码或验证码不正确，请重新输入。"
            else:
                security.note_login(True)
                login_user(user, remember=form.remember.data, duration=remember_for(user))
                return redirect(next_page)
        security.note_login(False)
    return login_page(code_form=form, code_error=error)


@bp.route("/reset", methods=["GET", "POST"])
@public
@security.login_limits  # a wrong code counts as a failed login
def reset():
    """忘记密码: a code sent to the phone, then a new password; every session and token ends."""
    form = ResetForm()
    sent = None
    if code_step_asked():
        sent = send_code_step(form, "reset")
    elif form.validate_on_submit():
        try:
            reset_password(db.session, form.phone.data, form.code.data, form.password.data, utcnow())
        except AccountError as exc:
            security.note_login(False)
            getattr(form, exc.field, form.code).errors.append(exc.message)
        else:
            security.note_login(True)
            flash("密码已重设，请用新密码登录（此账号的其他登录已全部退出）。", "info")
            return redirect(url_for("citizen.login"))
    return render_template("citizen/reset.html", form=form, sent=sent)


@bp.post("/logout")
@citizen_login_required
def logout():
    # quiz.auth bumps the session version on logout: a copied or remembered cookie dies too.
    logout_user()
    flash("您已退出登录。", "info")
    return redirect(url_for("citizen.index"))


# ---- the timed quiz -------------------------------------------------------------------

@bp.post("/quiz/start")
@citizen_login_required
def start_quiz():
    attempt_rules.start_attempt(db.session, current_user, the_contest(), utcnow(), address=security.client_address())
    return redirect(url_for("citizen.quiz"))


@bp.get("/quiz")
@citizen_login_required
def quiz():
    now = utcnow()
    contest = the_contest()
    attempt = attempt_rules.active_attempt(db.session, current_user, contest)
    if attempt is None:
        handed_in = attempt_rules.recently_handed_in(db.session, current_user, contest, now)
        if handed_in is not None:  # Back or a reload after 交卷: that attempt's result
            return redirect(url_for("citizen.result", attempt_id=handed_in.id))
        flash("您当前没有进行中的答题。", "info")
        return redirect(url_for("citizen.index"))
    if question_clock.per_question(attempt):
        return render_one_question(attempt, now, contest)
    return render_paper("citizen/quiz.html", attempt, now, contest)


def render_one_question(attempt: Attempt, now, contest):
    """A clock per question: the current question alone, with its remaining time as the server counts it."""
    shown = question_clock.current(attempt, now)
    item = attempt_rules.with_questions(db.session, attempt).items[shown.position]
    question = {"id": item.question.qid, "type": item.question.type, "type_name": TYPE_NAMES[item.question.type],
                "stem": item.question.stem, "options": attempt_rules.shown_options(item),
                "choices": attempt_rules.to_display(item, item.choices)}
    seconds_left = shown.seconds_left(now)
    return render_template("citizen/quiz.html", attempt=attempt, contest=contest, shown=shown, question=question,
                           form=ActionForm(), seconds_left=seconds_left, deadline_iso=iso(shown.deadline))


def render_paper(template: str, attempt: Attempt, now, contest):
    """The question form: questions, options and the citizen's own saved choices only."""
    questions = []
    answered = 0
    for item in attempt_rules.with_questions(db.session, attempt).items:
        choices = attempt_rules.to_display(item, item.choices)
        answered += bool(choices)
        questions.append({
            "id": item.question.qid, "type": item.question.type, "type_name": TYPE_NAMES[item.question.type],
            "stem": item.question.stem, "options": attempt_rules.shown_options(item), "choices": choices,
        })
    return render_template(
        template, attempt=attempt, contest=contest, questions=questions, answered=answered, form=ActionForm(),
        seconds_left=attempt_rules.seconds_left(attempt, now), deadline_iso=iso(attempt.deadline),
    )


@bp.post("/quiz/<int:attempt_id>/answers")
@citizen_login_required
def save_form(attempt_id):
    """The no-JavaScript path: one form saves every answer; 交卷 saves, then hands in."""
    now = utcnow()
    attempt = own_attempt(attempt_id)
    hand_in = request.form.get("action") == "submit" or request.form.get("auto") == "1"
    if attempt.finished:
        if attempt.auto_submitted:
            flash("答题时间已到，系统已按截止前保存的答案自动交卷。", "error")
        return redirect(url_for("citizen.result", attempt_id=attempt.id))
    if question_clock.per_question(attempt):
        return save_one_question(attempt, now)
    answers = {}
    # The confirmation page's 确认交卷 (confirm=1) carries no answers: keep the saved ones.
    for item in attempt.items if request.form.get("confirm") != "1" else ():
        chosen = sorted(request.form.getlist(f"q-{item.question.qid}"))
        if chosen == attempt_rules.to_display(item, item.choices):
            continue
        if chosen or item.question.type == "multiple":  # radios cannot be cleared; checkboxes can
            answers[item.question.qid] = chosen
    late = False
    if answers:
        try:
            attempt_rules.save_answers(db.session, current_user, attempt.id, answers, now)
        except DeadlinePassed:
            late = True
    if hand_in or late:
        auto = attempt_rules.countdown_hand_in(attempt, request.form.get("auto") == "1", now)
        attempt_rules.submit_attempt(db.session, current_user, attempt.id, now, auto=auto)
        if late:
            flash("答题时间已到，最后一次修改未能保存，已按截止前保存的答案交卷。", "error")
        return redirect(url_for("citizen.result", attempt_id=attempt.id))
    if request.form.get("action") == "confirm":  # 交卷 without JavaScript: saved, now the confirmation step
        return redirect(url_for("citizen.confirm_hand_in", attempt_id=attempt.id))
    flash("答案已保存。", "info")
    return redirect(url_for("citizen.practice" if attempt.practice else "citizen.quiz"))


@bp.get("/quiz/<int:attempt_id>/hand-in")
@citizen_login_required
def confirm_hand_in(attempt_id):
    """确认交卷 (the no-JavaScript confirmation of 交卷): how many questions are answered and
    that the attempt ends; its form posts action=submit confirm=1 to the answers form."""
    now = utcnow()
    attempt = own_attempt(attempt_id)
    if attempt.finished:  # Back after hand-in
        return redirect(url_for("citizen.result", attempt_id=attempt.id))
    items = attempt_rules.with_questions(db.session, attempt).items
    answered = sum(bool(item.choices) for item in items)
    position = question_clock.current(attempt, now).position if question_clock.per_question(attempt) else None
    return render_template("citizen/hand_in.html", attempt=attempt, contest=attempt.contest, answered=answered,
                           count=len(items), position=position, seconds_left=attempt_rules.seconds_left(attempt, now),
                           form=ActionForm())


def save_one_question(attempt: Attempt, now):
    """The form of a clock per question: save the shown question's answer, then 下一题 (or,
    on the last, 交卷) moves on; the countdown at zero sends 下一题 with auto=1."""
    try:
        position = int(request.form.get("position", ""))
    except ValueError:
        abort(400)
    if not 0 <= position < attempt.question_count:
        abort(400)
    item = attempt.items[position]
    chosen = sorted(request.form.getlist(f"q-{item.question.qid}"))
    confirmed = request.form.get("confirm") == "1"  # from the confirmation page: no answer fields
    if not confirmed and chosen != attempt_rules.to_display(item, item.choices) and \
            (chosen or item.question.type == "multiple"):
        try:
            attempt_rules.save_answer(db.session, current_user, attempt.id, item.question.qid, chosen, now)
        except DeadlinePassed:
            flash("这道题的答题时间已到，最后一次修改未能保存。", "error")
    action = request.form.get("action")
    asked_auto = request.form.get("auto") == "1"
    if action == "submit":  # 交卷 before the last question: the rest stay unanswered
        auto = attempt_rules.countdown_hand_in(attempt, asked_auto, now)
        attempt_rules.submit_attempt(db.session, current_user, attempt.id, now, auto=auto)
    elif action == "confirm" and not asked_auto:  # 交卷 without JavaScript: the confirmation step
        return redirect(url_for("citizen.confirm_hand_in", attempt_id=attempt.id))
    elif action == "next" or asked_auto:
        attempt = attempt_rules.next_question(db.session, current_user, attempt.id, now, leaving=position,
                                              auto=attempt_rules.countdown_hand_in(attempt, asked_auto, now))
        if not attempt.finished:
            return redirect(url_for("citizen.quiz"))
    else:
        flash("答案已保存。", "info")
        return redirect(url_for("citizen.quiz"))
    return redirect(url_for("citizen.result", attempt_id=attempt.id))


@bp.post("/quiz/<int:attempt_id>/answer")
@citizen_login_required
def autosave(attempt_id):
    """The JavaScript autosave: JSON {qid, choices}; the CSRF token travels in X-CSRFToken."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not isinstance(data.get("qid"), str):
        return jsonify({"error": {"code": "invalid", "message": "请求格式不正确。", "field": "qid"}}), 422
    try:
        attempt_rules.save_answer(db.session, current_user, attempt_id, data["qid"], data.get("choices"), utcnow())
    except ContestError as exc:
        extra = {"field": exc.field} if getattr(exc, "field", None) else {}
        return jsonify({"error": {"code": exc.code, "message": exc.message, **extra}}), exc.status
    return jsonify({"saved": True})


def own_attempt(attempt_id) -> Attempt:
    try:
        return attempt_rules.get_attempt(db.session, current_user, attempt_id)
    except AttemptNotFound:
        abort(404)


@bp.get("/result/<int:attempt_id>")
@citizen_login_required
def result(attempt_id):
    attempt = own_attempt(attempt_id)
    if not attempt.finished:
        return redirect(url_for("citizen.practice" if attempt.practice else "citizen.quiz"))
    frozen_at = freeze.frozen_at(attempt.contest, utcnow())  # the rank shown is the one at the freeze
    rank = None if attempt.practice else leaderboard.rank_or_none(attempt.contest, current_user, frozen_at)
    review = attempt_rules.review(attempt_rules.with_questions(db.session, attempt))
    numbered = [{**row, "number": number} for number, row in enumerate(review, 1)]
    only_wrong = request.args.get("wrong") == "1"  # 只看错题, a plain link: works without JavaScript
    return render_template("citizen/result.html", attempt=attempt, contest=attempt.contest, rank=rank, frozen_at=frozen_at,
                           review=[row for row in numbered if not row["correct"]] if only_wrong else numbered,
                           only_wrong=only_wrong, wrong_count=sum(not row["correct"] for row in review),
                           type_names=TYPE_NAMES)


@bp.get("/me")
@citizen_login_required
def me():
    now = utcnow()
    contest = requested_contest(db.session, now)
    attempts = db.session.scalars(
        select(Attempt).where(Attempt.user_id == current_user.id).order_by(Attempt.id.desc()).limit(100)
    ).all()
    best = rank = frozen_at = None
    left_today = allowance = None
    if contest is not None:
        best = attempt_rules.best_from_sql(db.session, current_user, contest)
        frozen_at = freeze.frozen_at(contest, now)  # the rank shown is the one at the freeze
        rank = leaderboard.rank_or_none(contest, current_user, frozen_at) if best else None
        allowance = attempt_rules.attempt_allowance(db.session, current_user, contest, now)
        left_today = allowance.left_today
    certificate = certificate_offer(db.session, contest, current_user, now) if contest is not None else None
    return render_template("citizen/me.html", contest=contest, attempts=attempts, best=best, rank=rank, frozen_at=frozen_at,
                           certificate=certificate, allowance=allowance,
                           left_today=left_today, district_names=contest.district_names() if contest else {},
                           can_correct=personal_data.can_correct(db.session, current_user), form=ActionForm())


@bp.post("/me/details")
@citizen_login_required
def correct_details():
    """The citizen corrects their name and unit (until their first finished attempt)."""
    if ActionForm().validate_on_submit():
        try:
            personal_data.correct_details(db.session, current_user._get_current_object(), request.form.get("name", ""),
                                          request.form.get("unit") or None)
        except AccountError as exc:
            flash(exc.message, "error")
        else:
            flash("姓名和单位已保存。", "info")
    return redirect(url_for("citizen.me"))


@bp.route("/me/close", methods=["GET", "POST"])
@citizen_login_required
def close_account():
    """注销账号: a confirmation page, then the personal data is replaced and every session ends."""
    form = ActionForm()
    refused = None
    if form.validate_on_submit():
        if request.form.get("confirm") != "1":
            refused = "请勾选确认后再注销。"
        else:
            try:
                personal_data.close_account(db.session, current_user._get_current_object(), utcnow())
            except AccountError as exc:
                refused = exc.message
            else:
                logout_user()
                flash("账号已注销：您的姓名、手机号和单位已删除，成绩仅保留在匿名统计中。", "info")
                return redirect(url_for("citizen.index"))
    return render_template("citizen/close.html", form=form, refused=refused), 422 if refused else 200


# ---- certificates (quiz/certificates.py) ---------------------------------------------------

@bp.get("/me/certificate.pdf")
@citizen_login_required
def my_certificate():
    """下载证书: a published winner's award certificate, else the participation certificate,
    else a page saying why there is none (403/404). ?contest=SLUG for an earlier contest."""
    now = utcnow()
    slug = request.args.get("contest")
    contest = db.session.scalar(select(Contest).where(Contest.slug == slug)) if slug else the_contest()
    if contest is None:
        abort(404)
    try:
        entitlement = certificate_for(db.session, contest, current_user, now)
    except NoCertificate as refusal:
        return render_template("citizen/certificate.html", contest=contest, refusal=refusal.message), refusal.status
    certificate = issue_certificate(db.session, contest, current_user, entitlement, now)
    base_url = current_app.config.get("PUBLIC_BASE_URL") or request.host_url
    response = make_response(certificate_pdf(certificate, contest, current_user,
                                             verification_url(base_url, certificate.code)))
    response.headers["Content-Type"] = "application/pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{download_filename(contest)}"'
    return response


@bp.get("/certificates/<code>")
@public
@security.CERTIFICATE_LOOKUPS_PER_IP
def certificate(code):
    """The public check of a certificate's code (printed and QR-coded on it); unknown: 404."""
    found = verify_certificate(db.session, code, utcnow())
    if found is None:
        abort(404)
    return render_template("citizen/certificate.html", verification=found)


# ---- practice ---------------------------------------------------------------------------

@bp.get("/practice")
@citizen_login_required
def practice():
    now = utcnow()
    contest = requested_contest(db.session, now)
    attempt = attempt_rules.active_attempt(db.session, current_user, contest, practice=True) if contest else None
    if attempt is not None:
        return render_paper("citizen/practice.html", attempt, now, contest)
    blocker = attempt_rules.practice_blocker(db.session, current_user, contest, now,
                                             current_app.config["PRACTICE_PER_DAY"]) if contest else None
    return render_template("citizen/practice.html", contest=contest, attempt=None, blocker=blocker, form=ActionForm())


@bp.post("/practice/start")
@citizen_login_required
def start_practice():
    """A refusal (closed, a timed attempt running, the day's practice used up) is shown on /practice."""
    try:
        attempt_rules.start_practice(db.session, current_user, the_contest(), utcnow(),
                                     per_day=current_app.config["PRACTICE_PER_DAY"])
    except ContestError as exc:
        flash(exc.message, "error")
    return redirect(url_for("citizen.practice"))


# ---- 公示: the winners list and objections ------------------------------------------------

@bp.get("/awards")
@public
def awards_page():
    return render_awards()


def render_awards(errors=None, typed=None, status=200):
    """获奖公示: before publication when it comes; after, the winners by tier, the objection
    deadline, and for a logged-in citizen the objection form and their own objections."""
    now = utcnow()
    contest = requested_contest(db.session, now)
    published = contest is not None and contest.awards_published_at is not None
    found = winners(db.session, contest) if published else []
    mine = own_objections(db.session, contest, current_user) if current_user.is_authenticated else []
    return render_template(
        "citizen/awards.html", contest=contest, phase=phase(contest, now) if contest else None, published=published,
        groups=by_tier(found), tiers={t["name"]: tier_rule(t) for t in (contest.awards or [])} if contest else {},
        draws=draws(db.session, contest) if published else [], deadline=objection_deadline(contest) if contest else None,
        blocker=window_blocker(contest, now), mine=mine, label=lambda about: about_label(db.session, contest, about),
        district_names=contest.district_names() if contest else {}, errors=errors or {}, typed=typed or {},
        form=ActionForm()), status


@bp.post("/awards/objections")
@citizen_login_required
def awards_objection():
    """The page form of POST /api/v1/objections (the same rule, quiz.objections.file_objection)."""
    if not ActionForm().validate_on_submit():
        flash("页面已过期，请重新提交。", "error")
        return redirect(url_for("citizen.awards_page"))
    try:
        file_objection(db.session, requested_contest(db.session, utcnow()), current_user._get_current_object(),
                       request.form.get("about", ""), request.form.get("text", ""), utcnow())
    except InvalidObjection as exc:
        return render_awards(errors={exc.field: exc.message}, typed=request.form, status=422)
    except ContestError as exc:
        flash(exc.message, "error")
        return redirect(url_for("citizen.awards_page"))
    flash("异议已提交，组织者答复后会显示在“我的异议”中。", "info")
    return redirect(url_for("citizen.awards_page", _anchor="my-objections"))

"""The organizers' console. Every view carries a role guard from quiz.auth (checked by
tests/functional/test_admin_access.py); district organizers see their district only."""
from flask import Response, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import func, select

from quiz import exports, figures, freeze, personal_data, staff, stats
from quiz.accounts import AccountError, mask_phone
from quiz.auth import city_organizer_required, district_scope, organizer_required
from quiz.awards import CLAIM_NAMES, AwardsRefused, by_tier, draws, set_claim, tier_rule
from quiz.awards import publish as publish_awards
from quiz.awards import winners as award_winners
from quiz.bank.importer import import_bank
from quiz.bank.validator import BankInvalid
from quiz.clock import utcnow
from quiz.contest.attempts import as_seen, to_display
from quiz.contest.rules import current_contest, phase
from quiz.extensions import db
from quiz.i18n import _, _l
from quiz.leaderboard import on_public_boards
from quiz.models import ROLE_CITY, AuditEntry, Bank, Contest, Question, User
from quiz.models import Award as AwardRow
from quiz.models import Objection as ObjectionRow
from quiz.objections import InvalidObjection, about_label, answer_objection, objection_deadline, window_blocker
from quiz.objections import objections as contest_objections
from quiz.report import summary_report
from quiz.web.admin import charts
from quiz.web.admin.banks import PendingUploads, bank_rows, search_questions, set_retired, template_download
from quiz.web.admin.blueprint import bp
from quiz.web.admin.contest_form import (
    NeedsConfirmation,
    bank_choices,
    bank_switch,
    category_choices,
    definition_from_form,
    fill_form,
    save_contest,
)
from quiz.web.admin.forms import (
    ActionForm,
    BankUploadForm,
    ContestForm,
    ContestUploadForm,
    ExportForm,
    QuestionSearchForm,
    ResultsFilterForm,
    options,
)
from quiz.web.admin.results import (
    PAGE_SIZE,
    PhoneFilterRefused,
    ResultFilter,
    check_phone_filter,
    citizen_attempts,
    find_results,
    page_count,
)
from quiz.web.audit import operator_labels
from quiz.web.audit import record as audit
from quiz.web.security import PHONE_FILTER_PER_USER

PHASE_NAMES = {"upcoming": _l("not started"), "open": _l("running"), "ended": _l("ended")}
FLAG_NAMES = {"low_correct_rate": _l("correct rate below 20%"), "low_discrimination": _l("discrimination below 0.2")}
TYPE_NAMES = {"single": _l("single choice"), "multiple": _l("multiple choice"), "judge": _l("true or false")}


# ---- shared ---------------------------------------------------------------------

@bp.context_processor
def console_context():
    return {"is_city": current_user.is_authenticated and current_user.role == ROLE_CITY,
            "phase_names": PHASE_NAMES, "type_names": TYPE_NAMES, "show_phone": show_phone,
            "internal_label": internal_label}


@bp.app_template_filter("average")
def average_filter(value) -> str:
    """平均分 as every screen shows it (quiz.figures.average_text): 2 decimals, "—" without data."""
    return figures.average_text(value)


@bp.app_template_filter("status_name")
def status_name_filter(status: str) -> str:
    """已交卷 / 超时自动交卷 / 答题中 (quiz.figures.STATUS_NAMES), as in the exports."""
    return figures.status_name(status)


@bp.errorhandler(CSRFError)
def csrf_error(_exc):
    flash(_("The page has expired; please submit again."), "error")
    return redirect(request.path if request.url_rule and "GET" in request.url_rule.methods else url_for("admin.dashboard"))


def show_phone(phone: str) -> str:
    """Full phones for city organizers only."""
    return phone if current_user.role == ROLE_CITY else mask_phone(phone)


def internal_label(user: User) -> str | None:
    """How the console labels an account kept off public standings: 内部 (an organizer),
    测试 (marked staff or test); None for a citizen who counts."""
    if on_public_boards(user):
        return None
    return _("internal") if user.is_organizer else _("test")


def chosen_contest() -> Contest | None:
    """?contest=<id> when given, else the current contest."""
    contest_id = request.args.get("contest", type=int)
    if contest_id is not None:
        contest = db.session.get(Contest, contest_id)
        if contest is None:
            abort(404)
        return contest
    return current_contest(db.session, utcnow())


def all_contests() -> list[Contest]:
    return list(db.session.scalars(select(Contest).order_by(Contest.starts_at.desc())))


def district_choices(contest: Contest | None) -> list[tuple[str, str]]:
    scope = district_scope(current_user)
    if scope is not None:
        return options([(scope, (contest.district_names() if contest else {}).get(scope, scope))])
    return options([("", _("All districts"))] + [(d["code"], d["name"]) for d in (contest.districts if contest else [])])


# ---- dashboard -----------------------------------------------------------------

@bp.get("")
@organizer_required
def dashboard():
    contest = chosen_contest()
    if contest is None:
        return render_template("admin/dashboard.html", contest=None, contests=[])
    now = utcnow()
    figures = stats.dashboard(db.session, contest, now, district_scope(current_user))
    per_10k = charts.horizontal_bars([(d.name, d.per_10k) for d in figures.districts],
                                     _("Participants per 10,000 residents"), unit="")
    scores = charts.columns(figures.score_buckets, _("Score distribution (percent of full marks)"), show_values=True)
    hourly = figures.hourly[-24 * 14:]  # at most the last two weeks of hours
    hours = charts.columns([(moment.strftime("%m-%d") if moment.hour == 0 else _("%(hour)s:00", hour=moment.strftime("%H")), n)
                            for moment, n in hourly], _("Attempts per hour (Beijing time)"),
                           label_every=max(1, len(hourly) // 12))
    return render_template("admin/dashboard.html", contest=contest, contests=all_contests(), figures=figures,
                           per_10k_chart=per_10k, score_chart=scores, hourly_chart=hours,
                           phase=phase(contest, now), frozen_at=freeze.frozen_at(contest, now),
                           unfreeze_form=ActionForm())


@bp.post("/contests/<int:contest_id>/unfreeze")
@city_organizer_required
def contest_unfreeze(contest_id: int):
    """解封 (city organizers): the public boards show the live standings at once; audited."""
    contest = db.get_or_404(Contest, contest_id)
    if not ActionForm().validate_on_submit():
        flash(_("The page has expired; please submit again."), "error")
    else:
        try:
            revealed = freeze.unfreeze(db.session, contest, current_user, utcnow())
        except freeze.NotFrozen as exc:
            flash(str(exc), "error")
        else:
            flash(_("Unfrozen: the public boards, displays and API now show the live standings.") if revealed
                  else _("Unfrozen; the boards' cache cannot be cleared now (Redis unavailable) and expires by itself "
                         "within seconds."), "info")
    return redirect(url_for("admin.dashboard", contest=contest.id))


# ---- summary report --------------------------------------------------------------

@bp.get("/report")
@organizer_required
def report():
    """The printable summary report: a district organizer's district, or the city (?district=)."""
    contest = chosen_contest()
    if contest is None:
        return render_template("admin/report.html", contest=None, contests=[])
    try:
        district = district_scope(current_user) or exports.district_filter(contest, request.args.get("district"))
    except exports.UnknownDistrict:
        return render_template("admin/report.html", contest=contest, contests=all_contests(), report=None,
                               district_error=_("No such district; choose one from the list.")), 400
    summary = summary_report(db.session, contest, utcnow(), district)
    days = [(d.day[5:], d.participants) for d in summary.days], [(d.day[5:], d.attempts) for d in summary.days]
    every = max(1, len(summary.days) // 15)
    return render_template(
        "admin/report.html", contest=contest, contests=all_contests(), report=summary,
        day_participants_chart=charts.columns(days[0], _("Participants per day"), label_every=every, x_label=_("Day"),
                                              y_label=_("Participants"), printable=True),
        day_attempts_chart=charts.columns(days[1], _("Attempts made per day"), label_every=every, x_label=_("Day"),
                                          y_label=_("Attempts"), printable=True),
        score_chart=charts.columns(summary.score_buckets,
                                   _("Score distribution (by attempts)"), x_label=_("Score as a percent of full marks"),
                                   y_label=_("Attempts"),
                                   printable=True))


# ---- banks ---------------------------------------------------------------------

def _uploads() -> PendingUploads:
    return PendingUploads(current_app.instance_path)


@bp.get("/banks")
@organizer_required
def banks():
    return render_template("admin/banks.html", rows=bank_rows(db.session), form=BankUploadForm())


@bp.get("/banks/template.xlsx")
@organizer_required
def bank_template():
    return template_download()


@bp.post("/banks")
@city_organizer_required
def bank_upload():
    """Dry run (keeps the file server-side by its SHA-256) or import (a new file or the kept one)."""
    form = BankUploadForm()
    action = request.form.get("action", "dry-run")
    outcome = problems = None
    pending = filename = None
    if form.validate_on_submit():
        upload = form.file.data
        limit = current_app.config["BANK_MAX_BYTES"]
        if upload and upload.filename:
            raw, filename = upload.read(limit + 1), upload.filename
        elif form.pending.data and _uploads().read(form.pending.data) is not None:
            raw, filename = _uploads().read(form.pending.data), (request.form.get("pending_name") or "upload.yaml")[:255]
        else:
            raw = None
            flash(_("Choose the bank file to upload."), "error")
        if raw is not None and len(raw) > limit:
            flash(_("A bank file may not exceed 5 MB."), "error")
        elif raw is not None:
            try:
                outcome = import_bank(db.session, raw, filename, limit, dry_run=(action != "import"))
            except BankInvalid as exc:
                problems = exc.problems
            if action == "import":
                if outcome is not None:
                    _uploads().drop(form.pending.data)
                    if outcome.created:
                        audit(db.session, current_user, "bank.import",
                              f"{outcome.bank.slug} v{outcome.bank.version} ({filename})")
                        flash(_("Bank %(title)s imported (%(slug)s version %(version)s).", title=outcome.bank.title,
                                slug=outcome.bank.slug, version=outcome.bank.version), "info")
                    else:
                        flash(_("This file was imported before; the bank is unchanged."), "info")
                    return redirect(url_for("admin.banks"))
            elif outcome is not None:
                pending = _uploads().keep(raw)
    status = 422 if problems else 200
    return render_template("admin/banks.html", rows=bank_rows(db.session), form=form, checked=True,
                           action=action, outcome=outcome, problems=problems or [], pending=pending,
                           pending_name=filename), status


@bp.get("/banks/<int:bank_id>")
@organizer_required
def bank_questions(bank_id: int):
    bank = db.get_or_404(Bank, bank_id)
    form = QuestionSearchForm(request.args)
    form.category.choices = options([("", _("All"))] + list((bank.categories or {}).items()))
    page = max(1, request.args.get("page", 1, type=int))
    questions, total = search_questions(db.session, bank, (form.q.data or "").strip(), form.category.data or "",
                                        form.type.data or "", form.retired.data or "", page)
    return render_template("admin/bank_questions.html", bank=bank, form=form, questions=questions, total=total,
                           page=page, pages=page_count(total), action_form=ActionForm(),
                           query={k: v for k, v in request.args.items() if k != "page" and v} | {"bank_id": bank.id})


def _set_retired(question_id: int, retired: bool):
    question = db.get_or_404(Question, question_id)
    if ActionForm().validate_on_submit():
        set_retired(db.session, current_user, question, retired)
        flash(_("Question %(qid)s is retired and no longer drawn.", qid=question.qid) if retired
              else _("Question %(qid)s is in use again.", qid=question.qid), "info")
    return redirect(request.form.get("back") if (request.form.get("back") or "").startswith("/admin/")
                    else url_for("admin.bank_questions", bank_id=question.bank_id))


@bp.post("/questions/<int:question_id>/retire")
@city_organizer_required
def retire_question(question_id: int):
    return _set_retired(question_id, True)


@bp.post("/questions/<int:question_id>/restore")
@city_organizer_required
def restore_question(question_id: int):
    return _set_retired(question_id, False)


# ---- contests ------------------------------------------------------------------

@bp.get("/contests")
@organizer_required
def contests():
    now = utcnow()
    rows = [(contest, phase(contest, now)) for contest in all_contests()]
    return render_template("admin/contests.html", rows=rows, upload_form=ContestUploadForm())


def _contest_form(contest: Contest | None) -> ContestForm:
    form = ContestForm()
    form.bank.choices = options(bank_choices(db.session))
    form.practice_bank.choices = options([("", _("(no practice bank)")), *bank_choices(db.session)])
    categories = options(category_choices(db.session))
    for entry in form.paper.entries:
        entry["category"].choices = categories
    return form


def _render_contest_form(form, contest, problems=(), changes=(), status=200):
    categories = options(category_choices(db.session))
    for entry in form.paper.entries:
        entry["category"].choices = categories
    return render_template("admin/contest_form.html", form=form, contest=contest, problems=list(problems),
                           bank_switch=bank_switch(db.session, contest),
                           changes=list(changes), running=contest is not None and phase(contest, utcnow()) == "open"), status


def _save_from_form(form: ContestForm, contest: Contest | None):
    if contest is not None:
        form.slug.data = contest.slug  # the slug names the contest; it cannot be edited
    if not form.validate_on_submit():
        return _render_contest_form(form, contest, status=422)
    if form.ends_at.data <= form.starts_at.data:
        form.ends_at.errors = [*form.ends_at.errors, _("The end must be after the start.")]
        return _render_contest_form(form, contest, status=422)
    try:
        saved, created = save_contest(db.session, current_user, definition_from_form(form, contest), utcnow(),
                                      confirmed=form.confirm.data, slug=contest.slug if contest else None)
    except BankInvalid as exc:
        return _render_contest_form(form, contest, problems=exc.problems, status=422)
    except NeedsConfirmation as exc:
        return _render_contest_form(form, contest, changes=exc.changes, status=409)
    flash(_("Contest %(title)s created.", title=saved.title) if created
          else _("Contest %(title)s saved.", title=saved.title), "info")
    return redirect(url_for("admin.contests"))


@bp.route("/contests/new", methods=["GET", "POST"])
@city_organizer_required
def contest_new():
    form = _contest_form(None)
    if request.method == "GET":
        form.time_limit_s.data, form.questions_per_attempt.data = 600, 20
        form.attempts_per_day.data, form.max_attempts.data = 1, 7
        form.points_single.data = form.points_multiple.data = form.points_judge.data = 5
        return _render_contest_form(form, None)
    return _save_from_form(form, None)


@bp.route("/contests/<int:contest_id>/edit", methods=["GET", "POST"])
@city_organizer_required
def contest_edit(contest_id: int):
    contest = db.get_or_404(Contest, contest_id)
    form = _contest_form(contest)
    if request.method == "GET":
        fill_form(form, contest)
        return _render_contest_form(form, contest)
    return _save_from_form(form, contest)


@bp.post("/contests/upload")
@city_organizer_required
def contest_upload():
    form = ContestUploadForm()
    problems, changes = [], []
    if form.validate_on_submit() and form.file.data and form.file.data.filename:
        try:
            contest, created = save_contest(db.session, current_user, form.file.data.read(1024 * 1024 + 1), utcnow(),
                                            confirmed=form.confirm.data)
        except BankInvalid as exc:
            problems = exc.problems
        except NeedsConfirmation as exc:
            changes = exc.changes
        else:
            flash(_("Contest %(title)s created.", title=contest.title) if created
                  else _("Contest %(title)s updated.", title=contest.title), "info")
            return redirect(url_for("admin.contests"))
    else:
        flash(_("Choose the contest definition file."), "error")
    now = utcnow()
    rows = [(contest, phase(contest, now)) for contest in all_contests()]
    return render_template("admin/contests.html", rows=rows, upload_form=form, problems=problems,
                           changes=changes), 409 if changes else 422


# ---- results -------------------------------------------------------------------

@bp.get("/results")
@organizer_required
@PHONE_FILTER_PER_USER
def results():
    """The phone filter is for city organizers (403 for others); each use is audited and limited."""
    contest = chosen_contest()
    form = ResultsFilterForm(request.args)
    form.district.choices = district_choices(contest)
    form.set_groups(contest)
    attempts, total, page = [], 0, max(1, request.args.get("page", 1, type=int))
    refusal = None
    try:
        check_phone_filter(current_user, ResultFilter(phone=(request.args.get("phone") or "").strip() or None))
    except PhoneFilterRefused as exc:
        refusal = exc.message
    if contest is not None and refusal is None and form.validate():
        scope = district_scope(current_user)
        wanted = ResultFilter(district=scope or form.district.data or None, group=form.group.data or None,
                              day=form.day.data, score_min=form.score_min.data, score_max=form.score_max.data,
                              phone=form.phone.data or None)
        if wanted.phone:
            audit(db.session, current_user, "results.phone", f"{wanted.phone} contest={contest.slug}")
        attempts, total = find_results(db.session, contest, wanted, page)
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("admin/results.html", contest=contest, contests=all_contests(), form=form,
                           attempts=attempts, total=total, page=page, pages=page_count(total), query=query,
                           page_size=PAGE_SIZE, refusal=refusal), 403 if refusal else 200


@bp.get("/results/citizens/<int:user_id>")
@organizer_required
def citizen_results(user_id: int):
    citizen = db.get_or_404(User, user_id)
    scope = district_scope(current_user)
    if scope is not None and citizen.district != scope:
        abort(403)  # another district's citizen
    contest = chosen_contest()
    page = max(1, request.args.get("page", 1, type=int))
    attempts, total = citizen_attempts(db.session, citizen, contest, page) if contest else ([], 0)
    query = {"user_id": citizen.id} | ({"contest": contest.id} if contest else {})
    return render_template("admin/citizen.html", citizen=citizen, contest=contest, attempts=attempts,
                           to_display=to_display, as_seen=as_seen, total=total, page=page, pages=page_count(total), query=query,
                           staff_form=ActionForm())


@bp.post("/results/citizens/<int:user_id>/staff")
@city_organizer_required
def citizen_staff(user_id: int):
    """Mark (staff=1) or unmark (staff=0) a citizen as a staff or test account; audited."""
    citizen = db.get_or_404(User, user_id)
    contest_id = request.args.get("contest", type=int)
    back = url_for("admin.citizen_results", user_id=citizen.id, contest=contest_id)
    wanted = request.form.get("staff")
    if not ActionForm().validate_on_submit() or wanted not in ("1", "0"):
        flash(_("Invalid request; please try again on the page."), "error")
        return redirect(back)
    if citizen.is_organizer:
        flash(_("An organizer's account is kept off the public standings anyway."), "info")
        return redirect(back)
    marking = staff.set_staff(db.session, [citizen], wanted == "1", current_user)
    flash(_("%(name)s is marked as an internal/test account and no longer appears in the public standings.",
            name=citizen.name) if wanted == "1"
          else _("%(name)s is no longer marked internal/test and counts in the public standings again.",
                 name=citizen.name), "info")
    if marking.stale:
        flash(_("The boards cannot be updated now; run flask leaderboard rebuild once Redis is back."), "error")
    return redirect(back)


@bp.post("/results/citizens/<int:user_id>/district")
@organizer_required
def citizen_district(user_id: int):
    """Move a citizen to another district (city organizers, or the citizen's district
    organizer); audited, and the boards of the contests with their results are rebuilt."""
    citizen = db.get_or_404(User, user_id)
    scope = district_scope(current_user)
    if scope is not None and citizen.district != scope:
        abort(403)  # another district's citizen
    contest = chosen_contest()
    back = url_for("admin.citizen_results", user_id=citizen.id, contest=contest.id if contest else None)
    if not ActionForm().validate_on_submit() or contest is None:
        flash(_("Invalid request; please try again on the page."), "error")
        return redirect(back)
    try:
        outcome = personal_data.change_district(db.session, citizen, request.form.get("district"),
                                                {d["code"] for d in contest.districts}, current_user)
    except AccountError as exc:
        flash(exc.message, "error")
        return redirect(back)
    flash(_("%(name)s's district is now %(district)s.", name=citizen.name,
            district=contest.district_names().get(citizen.district, citizen.district))
          if outcome.users else _("The district is unchanged."), "info")
    if outcome.stale:
        flash(_("The boards cannot be updated now; run flask leaderboard rebuild once Redis is back."), "error")
    return redirect(back)


# ---- question statistics ---------------------------------------------------------

@bp.get("/questions")
@organizer_required
def question_stats():
    contest = chosen_contest()
    figures = stats.question_statistics(db.session, contest, district_scope(current_user)) if contest else []
    flagged = [f for f in figures if f.flags]
    return render_template("admin/questions.html", contest=contest, contests=all_contests(), figures=figures,
                           flagged=flagged, flag_names=FLAG_NAMES, min_answers=stats.MIN_ANSWERS)


# ---- exports -------------------------------------------------------------------

@bp.get("/exports")
@organizer_required
def exports_page():
    contest = chosen_contest()
    form = ExportForm()
    form.district.choices = district_choices(contest)
    return render_template("admin/exports.html", contest=contest, contests=all_contests(), form=form)


@bp.post("/exports")
@organizer_required
def export_download():
    contest = chosen_contest()
    form = ExportForm()
    form.district.choices = district_choices(contest)
    if contest is None or not form.validate_on_submit():
        flash(_("Choose what to export and the format."), "error")
        return redirect(url_for("admin.exports_page"))
    try:
        district = exports.district_filter(contest, district_scope(current_user) or form.district.data)
    except exports.UnknownDistrict:
        form.district.errors = [_("No such district; choose one from the list.")]
        return render_template("admin/exports.html", contest=contest, contests=all_contests(), form=form), 400
    full_phones = current_user.role == ROLE_CITY
    kind, fmt = form.kind.data, form.fmt.data
    audit(db.session, current_user, "export",
          f"{kind} {fmt} {contest.slug} district={district or 'all'} phones={'full' if full_phones else 'masked'}")
    rows = exports.rows_for(kind, db.session, contest, district, full_phones)
    body = stream_with_context(exports.chunks(fmt, rows, title=contest.title))
    response = Response(body, mimetype=exports.MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{exports.filename(contest, kind, fmt, district)}"'
    response.headers["Cache-Control"] = "no-store"
    return response


# ---- prizes: claims, 公示, objections (quiz/awards.py, quiz/objections.py) --------------

@bp.get("/awards")
@organizer_required
def awards():
    """Winners with their claim state, the draws, 公示 and the objections; a district
    organizer sees their district's winners and objections, with masked phones."""
    contest = chosen_contest()
    if contest is None:
        return render_template("admin/awards.html", contest=None, contests=[])
    scope = district_scope(current_user)
    now = utcnow()
    return render_template(
        "admin/awards.html", contest=contest, contests=all_contests(), form=ActionForm(),
        groups=by_tier(award_winners(db.session, contest, scope)), claim_names=CLAIM_NAMES,
        tiers={t["name"]: tier_rule(t) for t in contest.awards or []}, draws=draws(db.session, contest),
        objections=contest_objections(db.session, contest, scope), deadline=objection_deadline(contest),
        window_closed=window_blocker(contest, now), label=lambda about: about_label(db.session, contest, about),
        district_names=contest.district_names(), phase=phase(contest, now))


@bp.post("/awards/<int:award_id>/claim")
@organizer_required
def award_claim(award_id: int):
    """待联系 / 已联系 / 已核实 / 已寄送 and a note, for one winner (their district's organizer or the city); audited."""
    award = db.get_or_404(AwardRow, award_id)
    scope = district_scope(current_user)
    if scope is not None and award.user.district != scope:
        abort(403)  # another district's winner
    if ActionForm().validate_on_submit():
        try:
            set_claim(db.session, award, request.form.get("status", ""), request.form.get("note", ""), utcnow(),
                      current_user)
        except AwardsRefused as exc:
            flash(exc.message, "error")
        else:
            flash(_("Saved %(name)s's claim status: %(status)s.", name=award.user.name,
                    status=CLAIM_NAMES[award.claim_status]), "info")
    else:
        flash(_("The page has expired; please submit again."), "error")
    return redirect(url_for("admin.awards", contest=award.contest_id, _anchor=f"award-{award.id}"))


@bp.post("/awards/publish")
@city_organizer_required
def awards_publish():
    """公示 (city organizers): the winners list goes public on /awards and objections open; audited."""
    contest = chosen_contest()
    if contest is None or not ActionForm().validate_on_submit():
        flash(_("Invalid request; please try again on the page."), "error")
    else:
        try:
            publish_awards(db.session, contest, utcnow(), current_user)
        except AwardsRefused as exc:
            flash(exc.message, "error")
        else:
            flash(_("The winners list is published."), "info")
    return redirect(url_for("admin.awards", contest=contest.id if contest else None))


@bp.post("/objections/<int:objection_id>/answer")
@organizer_required
def objection_answer(objection_id: int):
    """Answer an objection (shown to the citizen); a district organizer answers their district's; audited."""
    objection = db.get_or_404(ObjectionRow, objection_id)
    scope = district_scope(current_user)
    if scope is not None and objection.user.district != scope:
        abort(403)
    if ActionForm().validate_on_submit():
        try:
            answer_objection(db.session, objection, request.form.get("answer", ""), utcnow(), current_user)
        except InvalidObjection as exc:
            flash(_("Answer: %(error)s", error=exc.message), "error")
        else:
            flash(_("Answer saved; the citizen can read it on the winners page."), "info")
    else:
        flash(_("The page has expired; please submit again."), "error")
    return redirect(url_for("admin.awards", contest=objection.contest_id, _anchor=f"objection-{objection.id}"))


# ---- audit log -----------------------------------------------------------------

@bp.get("/audit")
@city_organizer_required
def audit_log():
    page = max(1, request.args.get("page", 1, type=int))
    action = request.args.get("action", "").strip()
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    entries = db.session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                                 .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    actions = db.session.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).all()
    return render_template("admin/audit.html", entries=entries, total=total, page=page, pages=page_count(total),
                           actions=actions, action=action, operators=operator_labels(db.session, entries))

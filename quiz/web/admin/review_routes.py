"""The review queue (/admin/review) and disqualifying or reinstating a citizen from the
console: thin views over quiz.review and quiz.disqualification (which audits and
rebuilds the boards). District organizers see and act on their own district only, with
masked phones and addresses."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from quiz import review
from quiz.auth import district_scope, organizer_required
from quiz.clock import utcnow
from quiz.disqualification import DisqualificationError, active_disqualification, disqualify, reinstate
from quiz.extensions import db
from quiz.i18n import _, _l
from quiz.models import Disqualification, User
from quiz.web.admin.blueprint import bp
from quiz.web.admin.routes import all_contests, chosen_contest

STALE_BOARDS = _l("The boards will be rebuilt once Redis is back (run flask leaderboard rebuild).")


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), filters=[lambda value: value.strip() if isinstance(value, str) else value],
                           validators=[DataRequired(message=_l("Please give a reason.")),
                                       Length(max=1000, message=_l("A reason may hold at most 1000 characters."))])


@bp.context_processor
def review_context():
    """For the citizen page (admin/citizen.html): the citizen's disqualification and the form."""
    def disqualification_of(citizen, contest):
        return active_disqualification(db.session, contest, citizen.id) if contest is not None else None
    return {"disqualification_of": disqualification_of, "reason_form": ReasonForm}


@bp.get("/review")
@organizer_required
def review_queue():
    return _queue_page()


def _queue_page(errors: dict | None = None, status: int = 200):
    """errors: {user_id: message} for the reason field of that citizen's form."""
    contest = chosen_contest()
    scope = district_scope(current_user)
    flags, entries = [], []
    settings = review.ReviewSettings.from_config(current_app.config)
    if contest is not None:
        flags = review.review_flags(db.session, contest, utcnow(), settings, district=scope)
        query = (select(Disqualification).join(User, User.id == Disqualification.user_id)
                 .where(Disqualification.contest_id == contest.id)
                 .order_by(Disqualification.lifted_at.is_not(None), Disqualification.at.desc()))
        if scope is not None:
            query = query.where(User.district == scope)
        entries = db.session.scalars(query).all()
    shown = [_shown(flag, scope) for flag in flags]
    return render_template("admin/review.html", contest=contest, contests=all_contests(), flags=shown,
                           entries=entries, errors=errors or {}, form=ReasonForm(),
                           settings=settings, kind_names=review.KIND_NAMES), status


def _shown(flag: review.Flag, scope: str | None) -> dict:
    """A flag as a district organizer may see it: their citizens, the others counted, the address masked."""
    mine = [c for c in flag.citizens if scope is None or c.district == scope]
    return {"kind": flag.kind, "name": flag.name, "evidence": flag.evidence_for(full_address=scope is None),
            "citizens": mine, "elsewhere": len(flag.citizens) - len(mine)}


def _citizen_in_scope(user_id: int) -> User:
    citizen = db.get_or_404(User, user_id)
    scope = district_scope(current_user)
    if scope is not None and citizen.district != scope:
        abort(403)  # another district's citizen
    return citizen


def _act(user_id: int, action, done: str):
    citizen = _citizen_in_scope(user_id)
    contest = chosen_contest()
    from_citizen_page = request.form.get("from") == "citizen"
    back = (url_for("admin.citizen_results", user_id=citizen.id, contest=contest.id if contest else None)
            if from_citizen_page else url_for("admin.review_queue", contest=contest.id if contest else None))
    form = ReasonForm()
    if contest is None:
        flash(_("No contest yet."), "error")
        return redirect(back)
    if not form.validate_on_submit():
        message = _("Reason: %(error)s", error=form.reason.errors[0] if form.reason.errors
                     else _("Invalid request; please try again on the page."))
        if from_citizen_page:
            flash(message, "error")
            return redirect(back)
        return _queue_page({citizen.id: message}, 400)
    try:
        outcome = action(db.session, contest, citizen, form.reason.data, current_user)
    except DisqualificationError as exc:
        flash(str(exc), "error")
        return redirect(back)
    flash(f"{citizen.name} {done}", "info")
    if not outcome.boards_rebuilt:
        flash(str(STALE_BOARDS), "error")
    return redirect(back)


@bp.post("/review/citizens/<int:user_id>/disqualify")
@organizer_required
def review_disqualify(user_id: int):
    return _act(user_id, disqualify, _(
        "is disqualified from this contest: no longer on the boards, the final standings or the draws."))


@bp.post("/review/citizens/<int:user_id>/reinstate")
@organizer_required
def review_reinstate(user_id: int):
    return _act(user_id, reinstate, _("is reinstated in this contest."))

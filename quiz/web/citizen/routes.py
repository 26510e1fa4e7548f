from flask import render_template

from quiz.auth import public
from quiz.clock import utcnow
from quiz.contest.rules import current_contest, phase
from quiz.extensions import db
from quiz.web.citizen import bp


@bp.get("/")
@public
def index():
    now = utcnow()
    contest = current_contest(db.session, now)
    return render_template("citizen/index.html", contest=contest, phase=phase(contest, now) if contest else None)


@bp.get("/healthz")
@public
def healthz():
    return {"status": "ok"}

from flask import render_template

from quiz.auth import organizer_required
from quiz.web.admin import bp


@bp.get("")
@organizer_required
def dashboard():
    return render_template("admin/dashboard.html")

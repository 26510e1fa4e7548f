from flask import render_template

from quiz.auth import public
from quiz.web.display import bp


@bp.get("")
@public
def city():
    return render_template("display/board.html")

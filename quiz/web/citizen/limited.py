"""The citizen pages' 429 (a rate limit of quiz/web/security.py was reached): the page says
how long to wait, and a form POST (register, log in, 验证码登录, reset) comes back as its form
with what the person typed kept (passwords never: WTForms does not render them back)."""
from flask import g, jsonify, make_response, render_template, request

from quiz.clock import utcnow
from quiz.extensions import db
from quiz.web.citizen import routes
from quiz.web.citizen.forms import CodeLoginForm, LoginForm, ResetForm
from quiz.web.contest_scope import requested_contest
from quiz.web.errors import MESSAGES, retry_after_s, wait_text


def _register_page():
    contest = requested_contest(db.session, utcnow())
    return render_template("citizen/register.html", form=routes.registration_form(contest), contest=contest, sent=None,
                           phone_taken=False)


# endpoint -> the page its form POST comes back as, bound to the typed values
FORM_PAGES = {
    "citizen.register": _register_page,
    "citizen.login": lambda: routes.login_page(form=LoginForm())[0],
    "citizen.login_code": lambda: routes.login_page(code_form=CodeLoginForm())[0],
    "citizen.reset": lambda: render_template("citizen/reset.html", form=ResetForm(), sent=None),
}


@routes.bp.errorhandler(429)
def too_many_requests(exc):
    seconds = retry_after_s(exc)
    wait = wait_text(seconds)
    page = FORM_PAGES.get(request.endpoint) if request.method == "POST" else None
    if request.endpoint == "citizen.code":  # static/code.js reads JSON
        response = jsonify({"error": {"code": "rate_limited", "message": f"操作太频繁，请 {wait}后再试。"}})
    elif page is not None:
        g.rate_limited_wait = wait  # base.html says it above the form
        response = make_response(page())
    else:
        response = make_response(render_template("errors/error.html", status=429, message=MESSAGES[429], wait=wait))
    response.status_code = 429
    response.headers["Retry-After"] = str(seconds)
    return response

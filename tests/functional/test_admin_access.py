"""Every console route and admin API route checks the role on the server.

The walk covers every url rule whose endpoint starts with "admin." or whose
path starts with /api/v1/admin/, with every method, as four visitors. A new
console route without a guard decorator, or with an argument the walk has no
sample for, makes these tests fail.
"""
import pytest
from admin_console import csrf_token, make_organizer, sign_in
from conftest import DURING, SAMPLE_BANK
from flask import g

from quiz.extensions import db
from quiz.models import Award, Objection, Question

GUARDS = {"organizer", "city"}
VISITORS = ("anonymous", "citizen", "other_district", "city")


def admin_rules(app):
    return [rule for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("admin.") or rule.rule.startswith("/api/v1/admin")]


def test_every_console_view_carries_a_role_guard(app):
    rules = admin_rules(app)
    assert any(rule.endpoint == "admin.dashboard" for rule in rules)
    for rule in rules:
        if rule.endpoint.startswith("admin."):
            access = getattr(app.view_functions[rule.endpoint], "access", None)
            assert access in GUARDS, f"{rule.rule} ({rule.endpoint}) has no organizer_required/city_organizer_required guard"


@pytest.fixture
def walk_world(app, contest, citizens):
    wujin_citizen = citizens.make(district="wujin", name="张三")
    question = db.session.query(Question).first()
    award = Award(contest_id=contest.id, user_id=wujin_citizen.id, tier="一等奖", kind="rank", position=1, score=100,
                  assigned_at=DURING)
    objection = Objection(contest_id=contest.id, user_id=wujin_citizen.id, about="self", text="x", created_at=DURING)
    db.session.add_all([award, objection])
    db.session.commit()
    return {
        "args": {"bank_id": question.bank_id, "question_id": question.id, "contest_id": contest.id,
                 "user_id": wujin_citizen.id, "award_id": award.id, "objection_id": objection.id},
        "citizen": wujin_citizen,
        "other_district": make_organizer("district", "liyang"),  # not the sample citizen's district
        "city": make_organizer("city"),
    }


def expected_status(rule, method, visitor, access) -> set[int]:
    api = rule.rule.startswith("/api/")
    if visitor == "anonymous":
        return {401} if api else {302}
    if visitor == "citizen":
        return {403}
    if visitor == "other_district":
        if access == "city" or api:
            return {403}
        if rule.endpoint in ("admin.citizen_results", "admin.citizen_district", "admin.award_claim",
                             "admin.objection_answer", "admin.review_disqualify", "admin.review_reinstate"):
            return {403}  # the sample citizen lives in another district
        return {200}
    # the city organizer may do everything; a POST without a meaningful form is refused as input, not as access
    return {200} if method == "GET" else {200, 201, 302, 400, 409, 422}


def request_as(client, app, world, visitor, method, path):
    # The app fixture's app context outlives each request, and with it flask.g, where
    # Flask-Login and api_user() cache who is asking: forget the previous visitor.
    for key in list(g):
        g.pop(key)
    if visitor != "anonymous":
        sign_in(client, world[visitor])
    headers = {}
    if path.startswith("/api/") and visitor != "anonymous":
        from quiz.accounts import issue_token
        from quiz.clock import utcnow

        token, _ = issue_token(db.session, world[visitor], utcnow(), 600)
        headers["Authorization"] = f"Bearer {token}"
    if method == "GET":
        return client.get(path, headers=headers)
    if path.startswith("/api/"):
        headers["Content-Type"] = "application/x-yaml"
        return client.post(path, headers=headers, data=SAMPLE_BANK.read_bytes())
    headers["X-CSRFToken"] = csrf_token(client, app)
    return client.post(path, headers=headers, data={"kind": "districts", "fmt": "csv"})


def test_walk_every_admin_route_as_every_visitor(app, walk_world):
    rules = admin_rules(app)
    checked = 0
    for rule in rules:
        missing = set(rule.arguments) - set(walk_world["args"])
        assert not missing, f"add a sample value for {missing} of {rule.rule} to walk_world"
        path = rule.build({k: walk_world["args"][k] for k in rule.arguments}, append_unknown=False)[1]
        access = getattr(app.view_functions[rule.endpoint], "access", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for visitor in VISITORS:
                client = app.test_client()
                response = request_as(client, app, walk_world, visitor, method, path)
                response.get_data()  # read streamed downloads to the end
                wanted = expected_status(rule, method, visitor, access)
                assert response.status_code in wanted, \
                    f"{visitor} {method} {path}: {response.status_code}, expected {sorted(wanted)}"
                if visitor == "anonymous" and not path.startswith("/api/"):
                    assert "/login" in response.headers["Location"]
                checked += 1
    assert checked >= 4 * len(rules)


def test_citizen_lands_on_a_refusal_not_the_console(client, app, walk_world):
    sign_in(client, walk_world["citizen"])
    response = client.get("/admin")
    assert response.status_code == 403
    assert "组织者控制台" not in response.get_data(as_text=True)

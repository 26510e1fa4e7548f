"""Access control is decided on the server and denies by default: every route, every role."""
import pytest
from conftest import DURING
from flask import g, url_for
from werkzeug.routing import IntegerConverter

from quiz.accounts import create_organizer
from quiz.extensions import db
from quiz.web.security import ACCESS_MARKS

LOGIN_REDIRECT = "/login"


def test_every_view_carries_an_access_mark(app):
    unmarked = [endpoint for endpoint, view in app.view_functions.items()
                if endpoint.rpartition(".")[2] != "static" and getattr(view, "access", None) not in ACCESS_MARKS]
    assert unmarked == [], f"views without @public/@citizen_login_required/@organizer_required/...: {unmarked}"


def test_an_unmarked_view_is_denied(app_with):
    careless = app_with()
    careless.add_url_rule("/forgotten", "forgotten", lambda: "secret")
    response = careless.test_client().get("/forgotten")
    assert response.status_code == 403 and "secret" not in response.get_data(as_text=True)


@pytest.fixture
def walk_app(app_with):
    """CSRF off so that POST routes reach their guards (CSRF has its own tests)."""
    return app_with(WTF_CSRF_ENABLED=False)


@pytest.fixture
def role_clients(walk_app, citizens, open_contest):
    users = {
        "citizen": citizens.make(),
        "district": create_organizer(db.session, "13800000002", "区组织者", "password123", "district", "wujin", DURING),
        "city": create_organizer(db.session, "13800000003", "市组织者", "password123", "city", None, DURING),
    }
    clients = {"anonymous": walk_app.test_client()}
    for role, user in users.items():
        client = walk_app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
        clients[role] = client
    return clients


def sample_requests(app):
    """(endpoint, method, url) for every rule, with 1 for integer arguments and "x" for the others."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint.rpartition(".")[2] == "static":
            continue
        args = {name: 1 if isinstance(converter, IntegerConverter) else "x"
                for name, converter in rule._converters.items()}
        with app.test_request_context():
            url = url_for(rule.endpoint, **args)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def denied(response) -> bool:
    if response.status_code in (401, 403):
        return True
    return response.status_code == 302 and LOGIN_REDIRECT in response.headers.get("Location", "")


def test_every_route_for_every_role(walk_app, role_clients):
    failures = []
    checked = 0
    for endpoint, method, url in sample_requests(walk_app):
        access = walk_app.view_functions[endpoint].access
        for role, client in role_clients.items():
            g.pop("csrf_token", None)  # flask.g outlives a request under the app fixture; not in production
            g.pop("api_user", None)
            g.pop("api_holder", None)
            response = client.open(url, method=method, json={} if method != "GET" else None)
            status = response.status_code
            response.close()  # never read a display's event stream to the end
            checked += 1
            must_deny = (access in ("login", "organizer", "city") and role == "anonymous") or \
                (access in ("organizer", "city") and role == "citizen") or \
                (access == "city" and role == "district")
            if must_deny and not denied(response):
                failures.append(f"{role} {method} {url} ({endpoint}, {access}) got {status}, expected a denial")
            if not must_deny and access in ("organizer", "city") and status in (401, 403):
                failures.append(f"{role} {method} {url} ({endpoint}, {access}) was denied ({status})")
            if status >= 500 and endpoint != "security.readyz":
                failures.append(f"{role} {method} {url} ({endpoint}) got {status}")
    assert checked > 100
    assert failures == [], "\n".join(failures)


def test_api_organizer_route_denies_citizens(api, citizens):
    api.login(citizens.make().phone)
    response = api.post("/api/v1/admin/banks", data=b"title: x", content_type="application/x-yaml")
    assert response.status_code == 403
    g.pop("api_holder", None)
    g.pop("api_user", None)  # the fixture's app context (and flask.g) outlives a request; production's does not
    anonymous = api.client.post("/api/v1/admin/banks", data=b"title: x", content_type="application/x-yaml")
    assert anonymous.status_code == 401

"""Property-based API testing: generated requests for every operation in /api/openapi.json.

Every response must be free of server errors and match the documented status
codes, content types and schemas. Bounded and deterministic: 20 examples per
operation with a fixed seed (derandomize), no example database.
"""
import pytest
import schemathesis
from conftest import DURING
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from quiz import config as quiz_config
from quiz import create_app
from quiz.accounts import create_organizer
from quiz.db.session import dispose_engines
from quiz.extensions import db
from quiz.web.api.openapi import spec

OPERATIONS = [(method.upper(), path) for path, item in spec()["paths"].items() for method in item]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def api_app(app, service_urls):
    """A separate app instance, so each generated request gets its own app context (and flask.g)."""
    database_url, redis_url, workdir = service_urls
    built = create_app(quiz_config.TestConfig(str(workdir / "instance"), database_url, redis_url))
    yield built
    with built.app_context():
        dispose_engines()


@pytest.fixture
def bearer(api_app, open_contest, citizens):
    """Authorization headers: a citizen with a running attempt, and a city organizer."""
    client = api_app.test_client()
    citizen = citizens.make()
    create_organizer(db.session, "13800000005", "市管理员", "password123", "city", None, DURING)

    def token(phone):
        response = client.post("/api/v1/auth/token", json={"phone": phone, "password": "password123"})
        return {"Authorization": "Bearer " + response.get_json()["token"]}

    citizen_headers = token(citizen.phone)
    client.post("/api/v1/attempts", headers=citizen_headers)
    return {"citizen": citizen_headers, "city": token("13800000005")}


@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_conforms_to_the_schema(api_app, bearer, method, path):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", api_app)
    operation = schema[path][method]
    headers = bearer["city"] if path.startswith("/api/v1/admin/") else bearer["citizen"]

    @settings(max_examples=20, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy())
    def generated(case):
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)

    generated()

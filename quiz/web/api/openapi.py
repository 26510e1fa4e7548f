"""The OpenAPI 3 description of the v1 API, served at /api/openapi.json."""


def _error_ref():
    return {"$ref": "#/components/schemas/Error"}


def _resp(description, schema=None):
    body = {"description": description}
    if schema is not None:
        body["content"] = {"application/json": {"schema": schema}}
    return body


def _errors(*codes):
    return {str(code): _resp("error", _error_ref()) for code in codes}


def spec() -> dict:
    nullable_int = {"type": ["integer", "null"]}
    rank = {"type": ["object", "null"], "properties": {"city": nullable_int, "district": nullable_int}}
    frozen = {"frozen": {"type": "boolean", "description": "封榜: the standings (ranks) shown are those as of frozen_at"},
              "frozen_at": {"type": ["string", "null"], "format": "date-time", "description": "the freeze_at while frozen"}}
    option = {"type": "object", "required": ["key", "text"],
              "properties": {"key": {"type": "string"}, "text": {"type": "string"}}}
    question = {"type": "object", "required": ["id", "type", "stem", "options"], "properties": {
        "id": {"type": "string"}, "type": {"type": "string", "enum": ["single", "multiple", "judge"]},
        "stem": {"type": "string"}, "options": {"type": "array", "items": option},
        "choices": {"type": "array", "items": {"type": "string"}}}}
    result = {"type": "object", "required": ["score", "max_score", "correct_count", "question_count", "time_used_ms", "rank", "review"],
              "properties": {
                  "score": {"type": "integer"}, "max_score": {"type": "integer"},
                  "correct_count": {"type": "integer"}, "question_count": {"type": "integer"},
                  "time_used_ms": {"type": "integer"}, "rank": rank, **frozen,
                  "review": {"type": "array", "items": {"type": "object", "properties": {
                      "id": {"type": "string"}, "choices": {"type": "array", "items": {"type": "string"}},
                      "correct_choices": {"type": "array", "items": {"type": "string"}},
                      "correct": {"type": "boolean"}, "explanation": {"type": "string"}}}}}}
    attempt = {"type": "object", "required": ["id", "status", "deadline"], "properties": {
        "id": {"type": "integer"}, "status": {"type": "string", "enum": ["active", "submitted", "expired"]},
        "practice": {"type": "boolean"},
        "started_at": {"type": "string", "format": "date-time"},
        "deadline": {"type": ["string", "null"], "format": "date-time"},
        "seconds_left": {"type": ["integer", "null"]},
        # A clock per question (the contest's question_time_s) only: the current question, and
        # `questions` holds just it.
        "question_time_s": {"type": "integer", "description": "seconds each question is shown (a clock per question only)"},
        "position": {"type": "integer", "description": "the current question, from 1"},
        "question_count": {"type": "integer"},
        "question_deadline": {"type": "string", "format": "date-time", "description": "the current question's time is up"},
        "question_seconds_left": {"type": "integer", "description": "the current question's remaining seconds, as the server counts"},
        "questions": {"type": "array", "items": question}, "result": result}}
    bearer = [{"bearer": []}]
    objection = {"type": "object", "required": ["id", "about", "text"], "properties": {
        "id": {"type": "integer"}, "about": {"type": "string", "description": "\"self\" or \"award:<id>\""},
        "about_label": {"type": "string"}, "text": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"}, "answer": {"type": ["string", "null"]},
        "answered_at": {"type": ["string", "null"], "format": "date-time"}}}
    json_body = lambda schema: {"required": True, "content": {"application/json": {"schema": schema}}}  # noqa: E731
    attempt_id = {"name": "attempt_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "公民科学素质网络大赛 API", "version": "1.0.0",
                 "description": "Citizens take timed quizzes; answers and explanations appear only after hand-in."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"], "properties": {
                    "code": {"type": "string", "enum": ["invalid", "unauthorized", "forbidden", "not_found", "phone_taken",
                                                        "contest_closed", "daily_limit", "attempts_exhausted",
                                                        "deadline_passed", "rate_limited", "unavailable", "internal",
                                                        "method_not_allowed", "too_large", "unsupported_media_type",
                                                        "objection_window_closed", "objection_limit"]},
                    "message": {"type": "string"}, "field": {"type": "string"}}}}}},
        },
        "paths": {
            "/api/v1/auth/code": {"post": {
                "summary": "Send a 6-digit code (valid 5 minutes) to a phone; the same answer whether or not it is registered",
                "description": "At most one code a minute and 10 a day per phone (429 rate_limited with Retry-After); "
                               "5 wrong tries void a code; 503 unavailable when the SMS sender failed (nothing stored).",
                "requestBody": json_body({"type": "object", "required": ["phone", "purpose"], "properties": {
                    "phone": {"type": "string"}, "purpose": {"type": "string", "enum": ["register", "login", "reset"]}}}),
                "responses": {"202": _resp("sent", {"type": "object", "required": ["sent", "retry_after_s"], "properties": {
                    "sent": {"type": "boolean"}, "retry_after_s": {"type": "integer"}}}),
                              **_errors(422, 429, 503)}}},
            "/api/v1/auth/register": {"post": {
                "summary": "Register a citizen",
                "description": "With PHONE_VERIFICATION (the default) \"code\" (purpose register) is required and "
                               "\"password\" optional (without one the citizen logs in by code).",
                "requestBody": json_body({"type": "object", "required": ["phone", "name", "district"], "properties": {
                    "phone": {"type": "string"}, "name": {"type": "string"}, "district": {"type": "string"},
                    "code": {"type": "string", "description": "the register code (PHONE_VERIFICATION)"},
                    "password": {"type": "string"},
                    "group": {"type": "string", "description": "a group code, required when the contest lists groups "
                                                               "(GET /api/v1/contest: groups); else optional 人群 text"},
                    "unit": {"type": "string", "description": "a unit code when the contest lists units, else free text"},
                    "township": {"type": "string", "description": "a township code of the district, required when "
                                                                  "the contest lists townships for it"}}}),
                "responses": {"201": _resp("registered", {"type": "object", "required": ["user"], "properties": {"user": {
                    "type": "object", "properties": {"id": {"type": "integer"}, "name_masked": {"type": "string"},
                                                     "district": {"type": "string"},
                                                     "unit": {"type": ["string", "null"]},
                                                     "township": {"type": ["string", "null"]}}}}}),
                              **_errors(404, 409, 422, 429)}}},
            "/api/v1/auth/token": {"post": {
                "summary": "Exchange phone and password, or phone and login code (citizens), for a bearer token",
                "requestBody": json_body({"type": "object", "required": ["phone"], "properties": {
                    "phone": {"type": "string"}, "password": {"type": "string"},
                    "code": {"type": "string", "description": "a login code (POST /api/v1/auth/code), instead of password"},
                    "totp": {"type": "string", "description": "organizers, when ADMIN_REQUIRE_TOTP is on"}}}),
                "responses": {"200": _resp("token", {"type": "object", "required": ["token", "expires_at"], "properties": {
                    "token": {"type": "string"}, "expires_at": {"type": "string", "format": "date-time"}}}),
                              **_errors(401, 422, 429)}},
                "delete": {"summary": "Revoke the caller's own bearer token", "security": bearer,
                           "responses": {"204": {"description": "revoked"}, **_errors(401)}}},
            "/api/v1/auth/reset": {"post": {
                "summary": "Set a new password with a reset code; every token and session of the account ends",
                "requestBody": json_body({"type": "object", "required": ["phone", "code", "password"], "properties": {
                    "phone": {"type": "string"}, "code": {"type": "string"}, "password": {"type": "string"}}}),
                "responses": {"200": _resp("reset", {"type": "object", "required": ["reset"], "properties": {
                    "reset": {"type": "boolean"}, "user": {"type": "object", "properties": {
                        "id": {"type": "integer"}, "name_masked": {"type": "string"}}}}}),
                              **_errors(422, 429)}}},
            "/api/v1/contest": {"get": {
                "summary": "The current contest (featured: true, else the open one that started last)",
                "responses": {"200": _resp("contest", {"type": "object", "required": ["slug", "title", "districts"], "properties": {
                    "slug": {"type": "string"}, "title": {"type": "string"}, "theme": {"type": "string"},
                    "starts_at": {"type": "string"}, "ends_at": {"type": "string"}, "time_limit_s": {"type": "integer"},
                    "questions_per_attempt": {"type": "integer"}, "attempts_per_day": {"type": "integer"},
                    "max_attempts": {"type": "integer"},
                    "question_time_s": {"type": ["integer", "null"],
                                        "description": "seconds per question, one question at a time (null: the whole paper at once)"},
                    "freeze_at": {"type": ["string", "null"], "format": "date-time", "description": "when the public boards freeze (封榜)"},
                    **frozen,
                    "districts": {"type": "array", "items": {"type": "object", "properties": {
                        "code": {"type": "string"}, "name": {"type": "string"}}}},
                    "groups": {"type": "array", "description": "the contest's groups (组别); empty: none",
                               "items": {"type": "object", "properties": {
                                   "code": {"type": "string"}, "name": {"type": "string"}}}}}}), **_errors(404)}}},
            "/api/v1/contests": {"get": {
                "summary": "Every contest and its phase. Each contest's own paths are the ones below under "
                           "/api/v1/contests/{slug}/ (contest, attempts, leaderboard, districts, units, me, awards, "
                           "objections, auth/register); the bare paths mean the featured contest, else the open one "
                           "that started last",
                "responses": {"200": _resp("contests", {"type": "object", "required": ["contests"], "properties": {
                    "contests": {"type": "array", "items": {"type": "object", "required": ["slug", "phase"], "properties": {
                        "slug": {"type": "string"}, "title": {"type": "string"},
                        "phase": {"type": "string", "enum": ["open", "upcoming", "ended"]},
                        "featured": {"type": "boolean"}, "starts_at": {"type": "string", "format": "date-time"},
                        "ends_at": {"type": "string", "format": "date-time"}}}}}})}}},
            "/api/v1/contests/{contest_slug}": {"get": {
                "summary": "One contest by its slug, as GET /api/v1/contest describes the current one",
                "parameters": [{"name": "contest_slug", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _resp("contest", {"type": "object", "required": ["slug", "title"]}),
                              **_errors(404)}}},
            "/api/v1/attempts": {"post": {
                "summary": "Start (201) or resume (200) the citizen's attempt", "security": bearer,
                "responses": {"200": _resp("resumed", {"type": "object", "properties": {"attempt": attempt}}),
                              "201": _resp("started", {"type": "object", "properties": {"attempt": attempt}}),
                              **_errors(401, 403, 404, 429)}}},
            "/api/v1/attempts/{attempt_id}": {"get": {
                "summary": "One of the citizen's attempts", "security": bearer, "parameters": [attempt_id],
                "responses": {"200": _resp("attempt", {"type": "object", "properties": {"attempt": attempt}}),
                              **_errors(401, 404)}}},
            "/api/v1/attempts/{attempt_id}/answers/{question_id}": {"put": {
                "summary": "Save one answer (last save wins)", "security": bearer,
                "parameters": [attempt_id, {"name": "question_id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "requestBody": json_body({"type": "object", "required": ["choices"], "properties": {
                    "choices": {"type": "array", "items": {"type": "string"}}}}),
                "responses": {"200": _resp("saved", {"type": "object", "properties": {"saved": {"type": "boolean"}}}),
                              **_errors(401, 404, 409, 422, 429)}}},
            "/api/v1/attempts/{attempt_id}/next": {"post": {
                "summary": "A clock per question: leave the current question (one way); on the last, hand in."
                           " With {\"position\": n} nothing moves unless question n is the current one",
                "security": bearer, "parameters": [attempt_id],
                "requestBody": {"required": False, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"position": {"type": "integer", "minimum": 1}}}}}},
                "responses": {"200": _resp("the attempt as GET shows it", {"type": "object", "properties": {"attempt": attempt}}),
                              **_errors(401, 404, 422)}}},
            "/api/v1/attempts/{attempt_id}/submit": {"post": {
                "summary": "Hand in the paper; repeating it returns the same result", "security": bearer,
                "parameters": [attempt_id],
                "responses": {"200": _resp("result", {"type": "object", "properties": {"result": result}}),
                              **_errors(401, 404)}}},
            "/api/v1/leaderboard": {"get": {
                "summary": "The city board, one district's, or one contest group's (group and district are exclusive)",
                "parameters": [
                    {"name": "district", "in": "query", "schema": {"type": "string"}},
                    {"name": "group", "in": "query", "schema": {"type": "string"},
                     "description": "a group code of the contest (422 invalid on group when unknown or with district)"},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": 10000000, "default": 0}}],
                "responses": {"200": _resp("board", {"type": "object", "required": ["total", "entries"], "properties": {
                    "total": {"type": "integer"}, "entries": {"type": "array", "items": {"type": "object", "properties": {
                        "rank": {"type": "integer"}, "name": {"type": "string"}, "district": {"type": "string"},
                        "score": {"type": "integer"}, "time_used_ms": {"type": "integer"}}}}, **frozen}}),
                              **_errors(404, 422, 503)}}},
            "/api/v1/units": {"get": {
                "summary": "The unit board: the contest's listed units (of one district), ordered by participants, then code",
                "parameters": [{"name": "district", "in": "query", "schema": {"type": "string"}}],
                "responses": {"200": _resp("units", {"type": "object", "required": ["units"], "properties": {"units": {
                    "type": "array", "items": {"type": "object", "properties": {
                        "code": {"type": "string"}, "name": {"type": "string"}, "district": {"type": "string"},
                        "participants": {"type": "integer"}, "attempts": {"type": "integer"},
                        "average_score": {"type": "number"},
                        "full_score_rate": {"type": "number", "minimum": 0, "maximum": 1}}}}, **frozen}}),
                              **_errors(404, 422)}}},
            "/api/v1/districts": {"get": {
                "summary": "District participation, ordered by the contest's district_rank_by (rank_by), then code",
                "responses": {"200": _resp("districts", {"type": "object", "properties": {
                    "rank_by": {"type": "string", "enum": ["per_10k", "participants", "attempts", "full_score_rate"]},
                    "districts": {"type": "array", "items": {
                    "type": "object", "properties": {
                        "code": {"type": "string"}, "name": {"type": "string"}, "participants": {"type": "integer"},
                        "attempts": {"type": "integer"}, "average_score": {"type": "number"},
                        "participation_per_10k": {"type": "number"},
                        "full_score_rate": {"type": "number", "description": "only when rank_by is full_score_rate"}}}}, **frozen}}),
                              **_errors(404, 503)}}},
            "/api/v1/me": {"get": {
                "summary": "The citizen's best result, ranks and attempts left today", "security": bearer,
                "responses": {"200": _resp("me", {"type": "object", "properties": {
                    "best": {"type": ["object", "null"], "properties": {"score": {"type": "integer"}, "time_used_ms": {"type": "integer"}}},
                    "rank": rank, **frozen, "attempts_today": {"type": "integer"}, "attempts_left_today": {"type": "integer"}}}),
                              **_errors(401, 404)}}},
            "/api/v1/awards": {"get": {
                "summary": "获奖公示: the current contest's published winners (masked), grouped by tier order",
                "description": "Before publication \"published\" is false and \"awards\" empty; \"final\" is true "
                               "once the objection deadline has passed. See docs/awards.md.",
                "responses": {"200": _resp("awards", {"type": "object", "required": ["published", "awards"], "properties": {
                    "contest": {"type": "string"}, "ends_at": {"type": "string", "format": "date-time"},
                    "published": {"type": "boolean"}, "final": {"type": "boolean"},
                    "published_at": {"type": ["string", "null"], "format": "date-time"},
                    "objection_deadline": {"type": ["string", "null"], "format": "date-time"},
                    "awards": {"type": "array", "items": {"type": "object", "required": ["id", "tier"], "properties": {
                        "id": {"type": "integer", "description": "the award id an objection names as \"about\""},
                        "tier": {"type": "string"}, "name_masked": {"type": "string"}, "phone_masked": {"type": "string"},
                        "district": {"type": ["string", "null"]}, "unit": {"type": ["string", "null"]}}}}}}),
                              **_errors(404)}}},
            "/api/v1/objections": {"post": {
                "summary": "File an objection during the 公示 window (citizens; at most 5 per contest)",
                "description": "\"about\": \"self\" (one's own result) or the id of a published award (GET /api/v1/awards), "
                               "also as \"award:<id>\"; anything else is 422 invalid with field \"about\". \"text\": 1-1000 "
                               "characters (field \"text\"). Before publication or after the deadline 409 "
                               "objection_window_closed; over the limit 429 objection_limit; organizers 403.",
                "security": bearer,
                "requestBody": json_body({"type": "object", "required": ["about", "text"], "properties": {
                    "about": {"type": ["string", "integer"]}, "text": {"type": "string", "maxLength": 1000}}}),
                "responses": {"201": _resp("filed", objection),
                              **_errors(401, 403, 409, 422, 429)}},
                "get": {"summary": "The caller's own objections and the organizers' answers", "security": bearer,
                        "responses": {"200": _resp("objections", {"type": "object", "required": ["objections"], "properties": {
                            "objections": {"type": "array", "items": objection}}}), **_errors(401)}}},
            "/api/v1/admin/banks": {"post": {
                "summary": "Upload a question bank (city organizers)", "security": bearer,
                "requestBody": {"required": True, "content": {
                    "application/x-yaml": {"schema": {"type": "string"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}}}},
                "responses": {"200": _resp("unchanged"), "201": _resp("imported"),
                              "422": _resp("problems", {"type": "object", "properties": {"errors": {"type": "array", "items": {
                                  "type": "object", "properties": {"line": {"type": "integer"},
                                                                   "cell": {"type": "string", "description":
                                                                            "a workbook's SHEET!CELL (line is its row)"},
                                                                   "question": {"type": ["string", "null"]},
                                                                   "message": {"type": "string"}}}}}}),
                              **_errors(401, 403, 413, 415)}}},
        },
    }

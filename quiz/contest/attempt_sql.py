"""The attempt rules that run in PostgreSQL: saving an answer, claiming and grading a
hand-in. Each rule is written once, here; every path (pages, API, CLI, finalizer) runs
these statements through quiz/contest/attempts.py, and each statement is correct on its
own for any input that reaches it.

Who is asking is a user id (cookie pages, CLI, finalizer) or, when that is NULL, the
holder of an unexpired bearer token (accounts.token_user_sql): the token is checked in
the same statement as the work, one round trip for an API save.

Everything that locks several attempt rows in one transaction (a batch of saves FOR
SHARE, a batch of submits by their claims) locks them in ascending id order, so two
batches never wait for each other in a circle.
"""
from quiz.accounts import token_user_sql
from quiz.db.direct import Statement

DISPLAY_KEYS = "ABCDEFGH"  # an attempt shows options as A, B, … in its own shuffled order

# Saves, one input row each (the n-th save is row n; a batch of one is a lone save). Each
# row gets a verdict, checked in this order: unauthorized (no such token), not_found (no
# such attempt of theirs), finished, late (deadline before the cutoff = now - grace),
# no_question (not in this paper), then for a clock per question (question_clock.py; NULL
# columns for a whole paper) question_left (before the current question, or its time was
# up before the cutoff) and not_served (its time has not come), not_judge (a judge answer is exactly ["true"] or
# ["false"]), not_keys (single and multiple take distinct keys among those displayed:
# A..H up to the option count), one_key (single takes at most one), else saved. A saved
# row stores the bank keys the displayed keys stand for, sorted. Displays come as JSON
# array texts, so any strings reach the checks intact. When one batch saves the same item
# twice, the later row is stored; with `all_or_none` nothing is stored unless every row is
# saved (the page form sends all answers at once). The attempt rows are locked FOR SHARE before any item is
# written: a submit's claim (FOR UPDATE) then either grades this save or comes first and
# makes it `finished`.
SAVE = Statement(
    "WITH r AS ("
    " SELECT r.n, r.user_id, r.token_hash, r.attempt_id, r.qid, r.now, r.cutoff,"
    "  ARRAY(SELECT json_array_elements_text(r.display)) AS display"
    " FROM ROWS FROM (json_to_recordset(CAST(:saves AS json)) AS (user_id integer, token_hash text,"
    "  attempt_id integer, qid text, display json, now timestamp, cutoff timestamp))"
    "  WITH ORDINALITY AS r(user_id, token_hash, attempt_id, qid, display, now, cutoff, n)"
    "), who AS ("
    f" SELECT r.n, COALESCE(r.user_id, {token_user_sql('r.token_hash', 'r.now')}) AS user_id FROM r"
    "), head AS ("
    # LATERAL: one index look-up per save whatever the planner guesses of the input's size,
    # and the outer rows in attempt id order, so the locks are taken in that order.
    " SELECT w.n, a.id, a.status, a.deadline, a.question_time_s, a.question_position, a.question_served_at"
    " FROM (SELECT who.n, who.user_id, r.attempt_id FROM who JOIN r ON r.n = who.n ORDER BY r.attempt_id) w"
    " CROSS JOIN LATERAL (SELECT a.id, a.status, a.deadline, a.question_time_s, a.question_position,"
    "  a.question_served_at FROM attempts a"
    "  WHERE a.id = w.attempt_id AND a.user_id = w.user_id FOR SHARE) a"
    "), item AS ("
    " SELECT head.n, i.id, i.option_order, i.type, i.position,"
    f"  (CAST('{{{','.join(DISPLAY_KEYS)}}}' AS text[]))[1:json_array_length(i.option_order)] AS keys"
    " FROM head JOIN r ON r.n = head.n CROSS JOIN LATERAL (SELECT aq.id, aq.option_order, aq.position, q.type"
    "  FROM attempt_questions aq JOIN questions q ON q.id = aq.question_id"
    "  WHERE aq.attempt_id = head.id AND q.qid = r.qid) i"
    "), checked AS ("
    " SELECT r.n, r.now, item.id AS item_id, item.type, cardinality(item.keys) AS option_count, CASE"
    "  WHEN who.user_id IS NULL THEN 'unauthorized'"
    "  WHEN head.id IS NULL THEN 'not_found'"
    "  WHEN head.status <> 'active' THEN 'finished'"
    "  WHEN head.deadline < r.cutoff THEN 'late'"
    "  WHEN item.id IS NULL THEN 'no_question'"
    "  WHEN head.question_time_s IS NOT NULL AND (item.position < head.question_position"
    "   OR head.question_served_at + (item.position - head.question_position + 1) * head.question_time_s"
    "   * interval '1 second' < r.cutoff) THEN 'question_left'"
    "  WHEN head.question_time_s IS NOT NULL AND head.question_served_at"
    "   + (item.position - head.question_position) * head.question_time_s * interval '1 second' > r.now"
    "   THEN 'not_served'"
    "  WHEN item.type = 'judge' THEN CASE WHEN r.display IN ('{true}', '{false}') THEN 'saved' ELSE 'not_judge' END"
    "  WHEN NOT r.display <@ item.keys"
    "   OR cardinality(r.display) <> (SELECT count(DISTINCT c) FROM unnest(r.display) AS c) THEN 'not_keys'"
    "  WHEN item.type = 'single' AND cardinality(r.display) > 1 THEN 'one_key'"
    "  ELSE 'saved' END AS verdict,"
    "  CASE WHEN item.type = 'judge' THEN to_json(r.display) ELSE COALESCE((SELECT json_agg(k ORDER BY k COLLATE \"C\")"
    "   FROM (SELECT item.option_order ->> (array_position(item.keys, c) - 1) AS k FROM unnest(r.display) AS c) AS bank),"
    "   '[]'::json) END AS choices"
    " FROM r LEFT JOIN who ON who.n = r.n LEFT JOIN head ON head.n = r.n LEFT JOIN item ON item.n = r.n"
    "), saved AS ("
    " UPDATE attempt_questions aq SET saved_at = latest.now, choices = latest.choices"
    " FROM (SELECT DISTINCT ON (item_id) item_id, now, choices FROM checked WHERE verdict = 'saved'"
    "  AND NOT (:all_or_none AND EXISTS (SELECT 1 FROM checked WHERE verdict <> 'saved'))"
    "  ORDER BY item_id, n DESC) AS latest"
    " WHERE aq.id = latest.item_id RETURNING aq.id"
    ") SELECT n, verdict, type, option_count FROM checked ORDER BY n"
)

# Hand-in, step 1: claim the attempt. Only one of two concurrent claims changes the row;
# its row lock makes a concurrent save land before the grading or be refused. Late means
# the deadline is before the cutoff (now - grace), or the finalizer's `auto`; an attempt
# finished after its deadline is recorded as finished at the deadline.
CLAIM = Statement(
    "UPDATE attempts a SET"
    " status = CASE WHEN :auto OR a.deadline < :cutoff THEN 'expired' ELSE 'submitted' END,"
    " auto_submitted = (:auto OR COALESCE(a.deadline < :cutoff, FALSE)),"
    " finished_at = CASE WHEN a.deadline < :now THEN a.deadline ELSE :now END"
    " FROM users u WHERE a.id = :attempt_id AND a.status = 'active' AND u.id = a.user_id"
    f" AND a.user_id = COALESCE(CAST(:user_id AS integer), {token_user_sql(':token_hash', ':now')})"
    " RETURNING a.id, a.user_id, a.contest_id, a.practice, a.status, a.started_at, a.deadline, a.finished_at,"
    " a.auto_submitted, a.question_count, a.\"group\", u.name, u.district, u.role, u.staff",
    prepared="quiz_claim",
)

# Step 2, in the same transaction with a snapshot taken after the claim (every save that
# held the row lock before it is seen): the grading rule. A question is correct when at
# least one key was chosen and the chosen bank keys equal the answer's as sets of keys
# (single and judge exact, multiple all-or-nothing); the score is the sum of the correct
# items' points; time used is finish - start in whole milliseconds. Does nothing unless
# this transaction claimed the attempt (finished, not yet scored).
GRADE = Statement(
    "WITH claimed AS ("
    " SELECT id FROM attempts WHERE id = :attempt_id AND status <> 'active' AND score IS NULL"
    "), graded AS ("
    " UPDATE attempt_questions aq SET correct = COALESCE(json_array_length(aq.choices) > 0"
    "  AND ARRAY(SELECT k FROM json_array_elements_text(aq.choices) AS k ORDER BY k)"
    "  = ARRAY(SELECT k FROM json_array_elements_text(q.answer) AS k ORDER BY k), FALSE)"
    " FROM questions q, claimed WHERE aq.attempt_id = claimed.id AND q.id = aq.question_id"
    " RETURNING aq.id, aq.position, aq.option_order, aq.choices, aq.correct, aq.points, aq.question_id"
    "), totals AS ("
    " UPDATE attempts a SET score = s.score, max_score = s.max_score, correct_count = s.correct_count,"
    " time_used_ms = GREATEST(0, FLOOR(EXTRACT(EPOCH FROM a.finished_at - a.started_at) * 1000))"
    " FROM claimed, (SELECT COALESCE(SUM(points) FILTER (WHERE correct), 0) AS score,"
    "  COALESCE(SUM(points), 0) AS max_score, COUNT(*) FILTER (WHERE correct) AS correct_count FROM graded) s"
    " WHERE a.id = claimed.id"
    " RETURNING a.score, a.max_score, a.correct_count, a.time_used_ms"
    ") SELECT totals.score, totals.max_score, totals.correct_count, totals.time_used_ms, graded.*"
    " FROM totals LEFT JOIN graded ON TRUE ORDER BY graded.position",
    prepared="quiz_grade",
)

# When nothing was claimed: who is asking (NULL: a bad token) and the attempt if it is theirs.
FINISHED = Statement(
    "SELECT w.user_id AS caller_id, a.id, a.user_id, a.contest_id, a.practice, a.status, a.started_at, a.deadline,"
    " a.finished_at, a.auto_submitted, a.question_count, a.score, a.max_score, a.correct_count, a.time_used_ms,"
    " a.\"group\", u.name, u.district, u.role, u.staff"
    f" FROM (SELECT COALESCE(CAST(:user_id AS integer), {token_user_sql(':token_hash', ':now')}) AS user_id) w"
    " LEFT JOIN attempts a ON a.id = :attempt_id AND a.user_id = w.user_id LEFT JOIN users u ON u.id = a.user_id"
)

VERDICTS = Statement(
    "SELECT id, position, option_order, choices, correct, points, question_id FROM attempt_questions"
    " WHERE attempt_id = :attempt_id ORDER BY position"
)

QUESTIONS_BY_ID = Statement(
    "SELECT id, qid, type, stem, options, answer, explanation, points FROM questions WHERE id = ANY(:ids)"
)

# Timed attempts started per Asia/Shanghai day (practice excluded).
_BY_DAY = ("SELECT day, COUNT(*) AS n FROM attempts WHERE user_id = :user_id AND contest_id = :contest_id"
           " AND NOT practice GROUP BY day")
ATTEMPTS_BY_DAY = Statement(_BY_DAY)

# The qids a citizen has been served in this contest's timed attempts (a paper serves
# these last: quiz/contest/paper.py).
_SERVED = ("SELECT DISTINCT q.qid FROM attempts a JOIN attempt_questions aq ON aq.attempt_id = a.id"
           " JOIN questions q ON q.id = aq.question_id"
           " WHERE a.user_id = :user_id AND a.contest_id = :contest_id AND NOT a.practice")
SERVED_QIDS = Statement(_SERVED)

# A timed start's reading, in its turn (START_TURN taken by the statement before, so this
# one's snapshot sees every start that went before): the active timed attempt, the attempts
# per day (as ATTEMPTS_BY_DAY, JSON [[day, n], ...]) and the served qids (as SERVED_QIDS);
# the active attempt's deadline, so that a start finds one whose time ran out.
START_STATE = Statement(
    "SELECT act.id AS active_id, act.deadline AS active_deadline,"
    f" (SELECT json_agg(json_build_array(d.day, d.n)) FROM ({_BY_DAY}) d) AS days,"
    f" ARRAY({_SERVED}) AS served"
    " FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT id, deadline FROM attempts WHERE user_id = :user_id"
    " AND contest_id = :contest_id AND status = 'active' AND NOT practice ORDER BY id DESC LIMIT 1) act ON TRUE",
    prepared="quiz_start_state",
)

# A new attempt and its items (JSON [{question_id, position, option_order, points}, ...])
# in one statement; one row: the attempt's id and its items' ids by position.
INSERT_PAPER = Statement(
    "WITH a AS (INSERT INTO attempts (user_id, contest_id, practice, status, day, started_at, deadline,"
    " auto_submitted, question_count, board_pending, started_from, question_time_s, question_position,"
    " question_served_at, \"group\") VALUES (:user_id, :contest_id, :practice, 'active', :day, :started_at,"
    " :deadline, FALSE, :question_count, FALSE, :started_from, :question_time_s, :question_position,"
    " :question_served_at, :group) RETURNING id"
    "), i AS (INSERT INTO attempt_questions (attempt_id, question_id, position, option_order, points)"
    " SELECT a.id, x.question_id, x.position, x.option_order, x.points FROM a,"
    " json_to_recordset(CAST(:items AS json)) AS x(question_id integer, position integer, option_order json,"
    " points integer) RETURNING id, position"
    ") SELECT a.id AS attempt_id, ARRAY(SELECT id FROM i ORDER BY position) AS item_ids FROM a",
    prepared="quiz_insert_paper",
)

# A start that resumes the citizen's active attempt: its head and its items (JSON
# [[item id, question id, option_order, choices, points], ...] by position), read in the
# start's turn with its COMMIT.
ACTIVE_PAPER = Statement(
    "SELECT a.id, a.user_id, a.contest_id, a.practice, a.day, a.started_at, a.deadline, a.question_count,"
    " a.started_from, a.question_time_s, a.question_position, a.question_served_at, a.\"group\","
    " (SELECT json_agg(json_build_array(aq.id, aq.question_id, aq.option_order, aq.choices, aq.points)"
    " ORDER BY aq.position) FROM attempt_questions aq WHERE aq.attempt_id = a.id) AS items"
    " FROM attempts a WHERE a.id = :attempt_id",
    prepared="quiz_active_paper",
)

# GET /api/v1/me: the token's holder and their attempts per day in one round trip (a holder
# without attempts comes back as one row with day NULL).
HOLDER_ATTEMPTS_BY_DAY = Statement(
    "SELECT u.id, u.name, u.district, u.role, a.day, a.n FROM users u"
    " LEFT JOIN LATERAL (SELECT day, COUNT(*) AS n FROM attempts WHERE user_id = u.id"
    " AND contest_id = :contest_id AND NOT practice GROUP BY day) a ON TRUE"
    f" WHERE u.id = {token_user_sql(':token_hash', ':now')}"
)

# Attempts past their deadline, still active: the finalizer's batch, and one citizen's
# (asked on each of their pages, so by user id: the index, under a generic plan too).
EXPIRED = Statement(
    "SELECT id, user_id FROM attempts WHERE status = 'active' AND deadline < :cutoff ORDER BY id LIMIT :batch"
)
EXPIRED_OF_USER = Statement(
    "SELECT id, user_id FROM attempts WHERE user_id = :user_id AND status = 'active' AND deadline < :cutoff"
    " ORDER BY id LIMIT :batch"
)

# Moving on in a per-question attempt (question_clock.move_on): only from the question the
# mover saw as current, so a repeated or concurrent 下一题 moves on once; the deadline never
# moves later.
MOVE_ON = Statement(
    "UPDATE attempts SET question_position = :position, question_served_at = :served_at,"
    " deadline = LEAST(deadline, :deadline)"
    " WHERE id = :attempt_id AND user_id = :user_id AND status = 'active' AND question_time_s IS NOT NULL"
    " AND question_position = :from_position AND question_served_at = :from_served_at RETURNING id"
)

MARK_BOARD_PENDING = Statement("UPDATE attempts SET board_pending = TRUE WHERE id = :attempt_id")

# Starts of one citizen in one contest (timed and practice) take turns: the start's own
# transaction (a timed start's on a direct connection, a practice start's the ORM session's)
# holds this lock from before it counts until it commits,
# so simultaneous starts, or a start racing a hand-in, cannot both pass the limits. The
# two-key form does not share its key space with one-key advisory locks.
START_TURN = Statement("SELECT pg_advisory_xact_lock(CAST(:contest_id AS integer), CAST(:user_id AS integer))",
                       prepared="quiz_start_turn")

# Practice attempts started on one Asia/Shanghai day (PRACTICE_PER_DAY).
PRACTICE_ON_DAY = Statement(
    "SELECT COUNT(*) AS n FROM attempts WHERE user_id = :user_id AND contest_id = :contest_id"
    " AND practice AND day = :day"
)

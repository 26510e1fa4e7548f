"""Contest definition files: validation with line numbers and import."""
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from quiz.bank.importer import latest_bank
from quiz.bank.loader import LineDict, LineList, Problem, YamlRefused, decode, load
from quiz.bank.validator import SLUG, TYPES, BankInvalid, _is_int, _nonempty_str
from quiz.clock import to_naive_utc, utcnow
from quiz.i18n import _
from quiz.models import Bank, Contest, Question

REQUIRED = {"contest", "title", "bank", "starts_at", "ends_at", "time_limit_s", "questions_per_attempt",
            "attempts_per_day", "max_attempts", "districts"}
OPTIONAL = {"theme", "paper", "points", "practice_bank", "units", "townships", "district_rank_by",
            "personal_data_days", "freeze_at", "organizer", "awards", "objection_days", "certificate_min_score",
            "question_time_s", "featured", "groups"}
# The kinds a listed unit may have (docs/contest.md).
UNIT_KINDS = ("机关", "事业单位", "企业", "学校", "医院", "社区", "村", "社会组织", "部队", "其他")
# Paths under /display that are not district displays.
RESERVED_DISTRICT_CODES = ("units", "data", "events", "poster")
# How districts are ranked on the boards: the contest file's district_rank_by.
RANK_BY = ("per_10k", "participants", "attempts", "full_score_rate")
# Limits of the leaderboard's exact encoding (quiz.leaderboard): the time used fits its 23 bits
# of ms, a finish or a start its member's seconds, with room; papers of 2 hours, windows of a year.
MAX_TIME_LIMIT_S = 7200
MAX_WINDOW = timedelta(days=366)
MAX_SCORE = 2047


@dataclass
class ValidContest:
    slug: str
    title: str
    theme: str
    bank: str
    starts_at: datetime
    ends_at: datetime
    time_limit_s: int
    questions_per_attempt: int
    paper: list
    points: dict
    attempts_per_day: int
    max_attempts: int
    districts: list
    practice_bank: str | None = None  # the bank practice papers come from; never `bank`
    personal_data_days: int | None = None  # personal data deleted this many days after ends_at
    units: list = field(default_factory=list)  # [{code, name, district, kind}]; []: free-text unit
    townships: dict = field(default_factory=dict)  # district code -> [{code, name}]
    district_rank_by: str = "per_10k"
    freeze_at: datetime | None = None  # the public boards show the standings as of then
    organizer: str = ""  # the organizer's name, printed on certificates
    awards: list = field(default_factory=list)  # prize tiers in order, see quiz/awards.py
    objection_days: int = 5  # days of 公示 during which objections are taken
    certificate_min_score: int | None = None  # None: no participation certificates
    question_time_s: int | None = None  # a clock per question; then time_limit_s defaults to all questions' time
    featured: bool = False  # the contest the bare paths (/, /api/v1/contest, /display) mean
    groups: list = field(default_factory=list)  # [{code, name, paper?}]; []: no groups (quiz/groups.py)
    lines: dict = field(default_factory=dict)  # key -> line, for problems found against the bank


def parse_instant(value) -> datetime | None:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        return None
    return moment


def validate_contest(raw: bytes, max_bytes: int = 1024 * 1024) -> ValidContest:
    """Return the checked definition or raise BankInvalid listing every problem of the file."""
    duplicates: list = []
    try:
        doc = load(decode(raw, max_bytes), duplicates=duplicates)
    except YamlRefused as exc:
        raise BankInvalid([*(problem for problem, _ in duplicates), exc.problem]) from None
    if not isinstance(doc, LineDict):
        raise BankInvalid([Problem(getattr(doc, "line", 1), _("the file must be a YAML mapping"))])
    problems: list[Problem] = [problem for problem, _ in duplicates]

    def line(key):
        return doc.key_lines.get(key, doc.line)

    def problem(key, message):
        problems.append(Problem(line(key), message))

    for key in doc:
        if key not in REQUIRED | OPTIONAL:
            problem(key, _("unknown key '%(key)s'", key=key))
    # With a clock per question time_limit_s may be left out: the paper then lasts its questions' times.
    for key in sorted(REQUIRED - set(doc) - ({"time_limit_s"} if "question_time_s" in doc else set())):
        problem(None, _("missing key '%(key)s'", key=key))
    for key in ("contest", "bank", "practice_bank"):
        if key in doc and not (isinstance(doc[key], str) and SLUG.match(doc[key])):
            problem(key, _("%(key)s must be a slug of lowercase letters, digits and hyphens", key=key))
    if "practice_bank" in doc and doc["practice_bank"] == doc.get("bank"):
        problem("practice_bank", _("practice_bank must be another bank than bank: practice shows its answer keys"))
    for key in ("title", "theme"):
        if key in doc and not _nonempty_str(doc[key]):
            problem(key, _("%(key)s must be non-empty text", key=key))
    instants = {}
    for key in ("starts_at", "ends_at"):
        if key in doc:
            instants[key] = parse_instant(doc[key])
            if instants[key] is None:
                problem(key, _("%(key)s must be ISO 8601 with an offset, like 2021-05-15T08:00:00+08:00", key=key))
    if "freeze_at" in doc:
        instants["freeze_at"] = parse_instant(doc["freeze_at"])
        if instants["freeze_at"] is None:
            problem("freeze_at", _("freeze_at must be ISO 8601 with an offset, like 2021-06-05T20:00:00+08:00"))
        elif instants.get("starts_at") and instants.get("ends_at") and not (
                instants["starts_at"] < instants["freeze_at"] < instants["ends_at"]):
            problem("freeze_at", _("freeze_at must be after starts_at and before ends_at"))
    if "featured" in doc and not isinstance(doc["featured"], bool):
        problem("featured", _("featured must be true or false"))
    if "organizer" in doc and not (_nonempty_str(doc["organizer"]) and len(doc["organizer"].strip()) <= 200):
        problem("organizer", _("organizer must be non-empty text of at most 200 characters"))
    if "objection_days" in doc and not (_is_int(doc["objection_days"]) and 1 <= doc["objection_days"] <= 60):
        problem("objection_days", _("objection_days must be an integer from 1 to 60"))
    if "certificate_min_score" in doc and not (_is_int(doc["certificate_min_score"]) and 0 <= doc["certificate_min_score"] <= MAX_SCORE):
        problem("certificate_min_score", _("certificate_min_score must be an integer from 0 to %(max_score)s", max_score=MAX_SCORE))
    clean_awards = _awards(doc, problems, line)
    if instants.get("starts_at") and instants.get("ends_at"):
        if instants["ends_at"] <= instants["starts_at"]:
            problem("ends_at", _("ends_at must be after starts_at"))
        elif instants["ends_at"] - instants["starts_at"] > MAX_WINDOW:
            problem("ends_at", _("a contest window may last at most %(days)s days", days=MAX_WINDOW.days))
    for key, low, high in (("time_limit_s", 10, MAX_TIME_LIMIT_S), ("questions_per_attempt", 1, 200),
                           ("attempts_per_day", 1, 1000), ("max_attempts", 1, 10000)):
        if key in doc and not (_is_int(doc[key]) and low <= doc[key] <= high):
            problem(key, _("%(key)s must be an integer from %(low)s to %(high)s", key=key, low=low, high=high))
    time_limit_s = doc.get("time_limit_s")
    if "question_time_s" in doc:
        if not (_is_int(doc["question_time_s"]) and 5 <= doc["question_time_s"] <= 600):
            problem("question_time_s", _("question_time_s must be an integer from 5 to 600"))
        elif "time_limit_s" not in doc and _is_int(doc.get("questions_per_attempt")):
            time_limit_s = doc["questions_per_attempt"] * doc["question_time_s"]
            if time_limit_s > MAX_TIME_LIMIT_S:
                problem("question_time_s", _("questions_per_attempt × question_time_s is %(time_limit_s)s s, more than a paper may last (%(max_time_limit_s)s s): set a shorter time_limit_s", time_limit_s=time_limit_s, max_time_limit_s=MAX_TIME_LIMIT_S))
    if _is_int(doc.get("attempts_per_day")) and _is_int(doc.get("max_attempts")) and doc["max_attempts"] < doc["attempts_per_day"]:
        problem("max_attempts", _("max_attempts must be at least attempts_per_day"))
    if "personal_data_days" in doc and not (_is_int(doc["personal_data_days"]) and 0 <= doc["personal_data_days"] <= 3650):
        problem("personal_data_days", _("personal_data_days must be an integer from 0 to 3650"))

    points = doc.get("points", {})
    if "points" in doc:
        if not isinstance(points, LineDict) or any(k not in ("single", "multiple", "judge") for k in points) \
                or not all(_is_int(v) and 0 <= v <= 100 for v in points.values()):
            problem("points", _("points must map single, multiple and judge to integers from 0 to 100"))
            points = {}

    rows = _paper_rows(doc["paper"], line("paper"), doc.get("questions_per_attempt"), problems) if "paper" in doc else []
    clean_groups = _groups(doc, problems, line)

    districts = doc.get("districts")
    clean_districts = []
    if "districts" in doc:
        if not isinstance(districts, LineList) or not districts:
            problem("districts", _("districts must be a non-empty list of {code, name, population}"))
        else:
            seen = set()
            for d in districts:
                d_line = getattr(d, "line", line("districts"))
                if not isinstance(d, LineDict) or set(d) != {"code", "name", "population"} \
                        or not (isinstance(d["code"], str) and SLUG.match(d["code"])) \
                        or not _nonempty_str(d["name"]) or not (_is_int(d["population"]) and d["population"] > 0):
                    problems.append(Problem(d_line, _("a district needs code (slug), name and population (positive integer)")))
                    continue
                if d["code"] in seen:
                    problems.append(Problem(d_line, _("duplicate district code '%(code)s'", code=d['code'])))
                    continue
                if d["code"] in RESERVED_DISTRICT_CODES:
                    problems.append(Problem(d_line, _("district code '%(code)s' is reserved: /display/%(code)s is another page", code=d['code'])))
                    continue
                seen.add(d["code"])
                clean_districts.append({"code": d["code"], "name": d["name"], "population": d["population"]})
    clean_units, clean_townships = _units_and_townships(doc, {d["code"] for d in clean_districts}, problems, line)
    rank_by = doc.get("district_rank_by", "per_10k")
    if rank_by not in RANK_BY:
        problem("district_rank_by", _("district_rank_by must be one of %(rank_by)s", rank_by=', '.join(RANK_BY)))
    if problems:
        raise BankInvalid(problems)
    return ValidContest(
        slug=doc["contest"], title=doc["title"], theme=doc.get("theme", ""), bank=doc["bank"],
        starts_at=to_naive_utc(instants["starts_at"]), ends_at=to_naive_utc(instants["ends_at"]),
        time_limit_s=time_limit_s, questions_per_attempt=doc["questions_per_attempt"],
        paper=rows, points=dict(points), attempts_per_day=doc["attempts_per_day"],
        max_attempts=doc["max_attempts"], districts=clean_districts, practice_bank=doc.get("practice_bank"),
        units=clean_units, townships=clean_townships, district_rank_by=rank_by, lines=dict(doc.key_lines),
        personal_data_days=doc.get("personal_data_days"),
        freeze_at=to_naive_utc(instants["freeze_at"]) if instants.get("freeze_at") else None,
        organizer=doc.get("organizer", "").strip(), awards=clean_awards,
        objection_days=doc.get("objection_days", 5), certificate_min_score=doc.get("certificate_min_score"),
        question_time_s=doc.get("question_time_s"), featured=doc.get("featured") is True,
        groups=clean_groups,
    )


def _paper_rows(paper, paper_line: int, questions_per_attempt, problems: list, prefix: str = "") -> list:
    """The checked rows of a paper (the top-level `paper` or a group's), each with its line;
    appends a problem (prefixed, e.g. "group 'youth': ") for each bad row."""
    if not isinstance(paper, LineList):
        problems.append(Problem(paper_line, _("%(prefix)spaper must be a list of rows like {category: safety, count: 4}", prefix=prefix)))
        return []
    rows = []
    for row in paper:
        row_line = getattr(row, "line", paper_line)
        if not isinstance(row, LineDict) or not set(row) <= {"category", "difficulty", "type", "count"} \
                or "count" not in row or not (_is_int(row["count"]) and row["count"] >= 1) \
                or len(row) < 2:
            problems.append(Problem(row_line, _("%(prefix)sa paper row needs count (≥ 1) and any of category, difficulty, type", prefix=prefix)))
            continue
        if "type" in row and row["type"] not in TYPES:
            problems.append(Problem(row_line, _("%(prefix)sa paper row's type must be single, multiple or judge, not %(type)r", prefix=prefix, type=row['type'])))
            continue
        if "difficulty" in row and not (_is_int(row["difficulty"]) and 1 <= row["difficulty"] <= 3):
            problems.append(Problem(row_line, _("%(prefix)sa paper row's difficulty must be 1, 2 or 3, not %(difficulty)r", prefix=prefix, difficulty=row['difficulty'])))
            continue
        if "category" in row and not isinstance(row["category"], str):
            problems.append(Problem(row_line, _("%(prefix)sa paper row's category must be a category slug, not %(category)r", prefix=prefix, category=row['category'])))
            continue
        rows.append(dict(row) | {"line": row_line})
    if _is_int(questions_per_attempt) and sum(r["count"] for r in rows) > questions_per_attempt:
        problems.append(Problem(paper_line, _("%(prefix)sthe paper rows ask for more questions than questions_per_attempt", prefix=prefix)))
    return rows


GROUP_CODE_MAX = 20  # users.group and attempts.group hold the code


def _groups(doc, problems: list, line) -> list:
    """The contest's groups (组别) in the file's order: [{code, name, paper?}], codes unique;
    a group's paper (rows with their line) is checked as the top-level paper is."""
    if "groups" not in doc:
        return []
    raw = doc["groups"]
    if not isinstance(raw, LineList) or not raw:
        problems.append(Problem(line("groups"), _("groups must be a non-empty list of {code, name, paper?}")))
        return []
    groups, seen = [], set()
    for g in raw:
        g_line = getattr(g, "line", line("groups"))
        if not isinstance(g, LineDict) or not {"code", "name"} <= set(g) <= {"code", "name", "paper"} \
                or not (isinstance(g["code"], str) and SLUG.match(g["code"]) and len(g["code"]) <= GROUP_CODE_MAX) \
                or not (_nonempty_str(g["name"]) and len(g["name"].strip()) <= 40):
            problems.append(Problem(g_line, _("a group needs code (slug of at most %(max)s characters), "
                                              "name (at most 40 characters) and optionally paper", max=GROUP_CODE_MAX)))
            continue
        if g["code"] in seen:
            problems.append(Problem(g_line, _("duplicate group code '%(code)s'", code=g["code"])))
            continue
        seen.add(g["code"])
        group = {"code": g["code"], "name": g["name"].strip()}
        if "paper" in g:
            paper_line = g.key_lines.get("paper", g_line)
            group["paper"] = _paper_rows(g["paper"], paper_line, doc.get("questions_per_attempt"), problems,
                                         prefix=_("group '%(code)s': ", code=g["code"]))
        groups.append(group)
    return groups


RANKS = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$|^\s*(\d+)\s*$")


def _awards(doc, problems: list, line) -> list:
    """The prize tiers, in the file's order (the higher tier first). Each is one of
    {name, ranks: "1-10"}, {name, per_district: N} or {name, draw: N, min_score?}; names are
    unique, rank ranges do not overlap, and every draw comes after every ranked tier."""
    if "awards" not in doc:
        return []
    raw = doc["awards"]
    if not isinstance(raw, LineList):
        problems.append(Problem(line("awards"), _('awards must be a list of tiers like {name: 一等奖, ranks: "1-10"}')))
        return []
    tiers, names, taken = [], set(), []
    seen_draw = False
    for tier in raw:
        t_line = getattr(tier, "line", line("awards"))
        shape = "a tier is {name, ranks: \"1-10\"}, {name, per_district: 5} or {name, draw: 200, min_score: 80}"
        if not isinstance(tier, LineDict) or "name" not in tier or not (_nonempty_str(tier["name"]) and len(tier["name"].strip()) <= 60):
            problems.append(Problem(t_line, _("%(shape)s; name is text of at most 60 characters", shape=shape)))
            continue
        name = tier["name"].strip()
        kinds = [k for k in ("ranks", "per_district", "draw") if k in tier]
        allowed = {"name", *kinds} | ({"min_score"} if kinds == ["draw"] else set())
        if len(kinds) != 1 or set(tier) - allowed:
            problems.append(Problem(t_line, _("tier '%(name)s': %(shape)s", name=name, shape=shape)))
            continue
        if name in names:
            problems.append(Problem(t_line, _("duplicate tier name '%(name)s'", name=name)))
            continue
        names.add(name)
        kind = kinds[0]
        if kind == "ranks":
            match = RANKS.match(str(tier["ranks"])) if isinstance(tier["ranks"], str | int) and not isinstance(tier["ranks"], bool) else None
            first, last = (int(match.group(1)), int(match.group(2))) if match and match.group(1) else \
                ((int(match.group(3)),) * 2 if match else (0, 0))
            if not match or not 1 <= first <= last <= 100000:
                problems.append(Problem(t_line, _("tier '%(name)s': ranks must be like \"1-10\" (first ≤ last, from 1)", name=name)))
                continue
            clash = next((other for other, (a, b) in taken if a <= last and first <= b), None)
            if clash:
                problems.append(Problem(t_line, _("tier '%(name)s': ranks %(first)s-%(last)s overlap tier '%(clash)s'", name=name, first=first, last=last, clash=clash)))
                continue
            if seen_draw:
                problems.append(Problem(t_line, _("tier '%(name)s': draws come after the ranked tiers", name=name)))
                continue
            taken.append((name, (first, last)))
            tiers.append({"name": name, "ranks": [first, last]})
        elif kind == "per_district":
            if not (_is_int(tier["per_district"]) and 1 <= tier["per_district"] <= 10000):
                problems.append(Problem(t_line, _("tier '%(name)s': per_district must be an integer from 1 to 10000", name=name)))
                continue
            if seen_draw:
                problems.append(Problem(t_line, _("tier '%(name)s': draws come after the ranked tiers", name=name)))
                continue
            tiers.append({"name": name, "per_district": tier["per_district"]})
        else:
            if not (_is_int(tier["draw"]) and 1 <= tier["draw"] <= 100000):
                problems.append(Problem(t_line, _("tier '%(name)s': draw must be an integer from 1 to 100000", name=name)))
                continue
            if "min_score" in tier and not (_is_int(tier["min_score"]) and 0 <= tier["min_score"] <= MAX_SCORE):
                problems.append(Problem(t_line, _("tier '%(name)s': min_score must be an integer from 0 to %(max_score)s", name=name, max_score=MAX_SCORE)))
                continue
            seen_draw = True
            tiers.append({"name": name, "draw": tier["draw"], "min_score": tier.get("min_score", 0)})
    return tiers


def _units_and_townships(doc, district_codes: set[str], problems: list, line) -> tuple[list, dict]:
    """The listed units and townships, appending a problem for each bad entry. Unit codes are
    unique in the contest, township codes too; a unit's district and each townships key must be
    one of the contest's districts (checked only when the districts themselves are valid)."""
    units, townships = [], {}
    if "units" in doc:
        raw = doc["units"]
        if not isinstance(raw, LineList):
            problems.append(Problem(line("units"), _("units must be a list of {code, name, district, kind}")))
            raw = []
        seen = set()
        for u in raw:
            u_line = getattr(u, "line", line("units"))
            if not isinstance(u, LineDict) or set(u) != {"code", "name", "district", "kind"} \
                    or not (isinstance(u["code"], str) and SLUG.match(u["code"]) and len(u["code"]) <= 60) \
                    or not (_nonempty_str(u["name"]) and len(u["name"].strip()) <= 100):
                problems.append(Problem(u_line, _("a unit needs code (slug), name (at most 100 characters), district and kind")))
                continue
            if u["code"] in seen:
                problems.append(Problem(u_line, _("duplicate unit code '%(code)s'", code=u['code'])))
                continue
            if district_codes and u["district"] not in district_codes:
                problems.append(Problem(u_line, _("unit '%(code)s' is in district %(district)r, which is not in districts", code=u['code'], district=u['district'])))
                continue
            if u["kind"] not in UNIT_KINDS:
                problems.append(Problem(u_line, _("unit '%(code)s' has kind %(kind)r; kinds are %(unit_kinds)s", code=u['code'], kind=u['kind'], unit_kinds=', '.join(UNIT_KINDS))))
                continue
            seen.add(u["code"])
            units.append({"code": u["code"], "name": u["name"].strip(), "district": u["district"], "kind": u["kind"]})
    if "townships" in doc:
        raw = doc["townships"]
        if not isinstance(raw, LineDict):
            problems.append(Problem(line("townships"), _("townships must map district codes to lists of {code, name}")))
            raw = {}
        seen = set()
        for district, entries in raw.items():
            d_line = raw.key_lines.get(district, raw.line)
            if district_codes and district not in district_codes:
                problems.append(Problem(d_line, _("townships of %(district)r, which is not in districts", district=district)))
                continue
            if not isinstance(entries, LineList) or not entries:
                problems.append(Problem(d_line, _("townships of '%(district)s' must be a non-empty list of {code, name}", district=district)))
                continue
            for t in entries:
                t_line = getattr(t, "line", d_line)
                if not isinstance(t, LineDict) or set(t) != {"code", "name"} \
                        or not (isinstance(t["code"], str) and SLUG.match(t["code"]) and len(t["code"]) <= 60) \
                        or not (_nonempty_str(t["name"]) and len(t["name"].strip()) <= 40):
                    problems.append(Problem(t_line, _("a township needs code (slug) and name (at most 40 characters)")))
                    continue
                if t["code"] in seen:
                    problems.append(Problem(t_line, _("duplicate township code '%(code)s'", code=t['code'])))
                    continue
                seen.add(t["code"])
                townships.setdefault(district, []).append({"code": t["code"], "name": t["name"].strip()})
    return units, townships


def check_against_bank(session, valid: ValidContest) -> list[Problem]:
    """Problems that make the paper impossible to draw from the bank's latest version (the
    version an import pins the contest to), and a practice bank that is missing or shares
    questions with the contest's bank."""
    return _checked_bank(session, valid)[1]


def _checked_bank(session, valid: ValidContest) -> tuple[Bank | None, list[Problem]]:
    """(the bank version checked, its problems): an import pins the version it checked."""
    bank = latest_bank(session, valid.bank)
    if bank is None:
        return None, [Problem(valid.lines.get("bank", 1), _("bank '%(bank)s' has not been imported", bank=valid.bank))]
    questions = session.scalars(select(Question).where(Question.bank_id == bank.id, Question.retired.is_(False))).all()
    problems = _practice_bank_problems(session, valid, questions)
    shortfalls = paper_shortfalls(questions, valid.paper, valid.questions_per_attempt, valid.points, valid.lines)
    for group in valid.groups:  # a group's paper replaces the contest's for its members: the same checks, row by row
        if "paper" in group:
            shortfalls += [Problem(p.line, _("group '%(code)s': ", code=group["code"]) + p.message)
                           for p in paper_shortfalls(questions, group["paper"], 0, valid.points)]
    pinned = pinned_bank(session, valid.slug)
    if shortfalls and pinned is not None and pinned.id != bank.id:
        problems.append(Problem(valid.lines.get("bank", 1), _("bank %(bank)s version %(version)s cannot fill the paper; contest %(slug)s stays on %(pinned_bank)s version %(pinned_version)s", bank=valid.bank, version=bank.version, slug=valid.slug, pinned_bank=pinned.slug, pinned_version=pinned.version)))
    return bank, problems + shortfalls


def _practice_bank_problems(session, valid: ValidContest, questions) -> list[Problem]:
    if valid.practice_bank is None:
        return []
    line = valid.lines.get("practice_bank", 1)
    practice = latest_bank(session, valid.practice_bank)
    if practice is None:
        return [Problem(line, _("practice_bank '%(practice_bank)s' has not been imported", practice_bank=valid.practice_bank))]
    # A copy of the contest's questions under another slug would give the keys away just the same.
    stems = {q.stem for q in questions}
    shared = sorted(session.scalars(select(Question.qid).where(Question.bank_id == practice.id,
                                                               Question.retired.is_(False)).where(
        Question.stem.in_(stems)))) if stems else []
    if shared:
        return [Problem(line, _("practice_bank '%(practice_bank)s' shares %(count)s question(s) with bank '%(bank)s' (e.g. %(examples)s): practice would show their answers", practice_bank=valid.practice_bank, count=len(shared), bank=valid.bank, examples=', '.join(shared[:3])))]
    return []


def pinned_bank(session, slug: str) -> Bank | None:
    """The bank version the contest `slug` draws its papers from (None: no such contest)."""
    return session.scalar(select(Bank).join(Contest, Contest.bank_id == Bank.id).where(Contest.slug == slug))


def paper_shortfalls(questions, rows, questions_per_attempt, points, lines: dict | None = None) -> list[Problem]:
    """Every paper row must get its full count whatever the random draw (see attempts.draw_paper):
    the rows above draw first and may take up to min(their count, the overlap) of a row's questions."""
    lines = lines or {}
    problems = []
    matching = [{q.id for q in questions if row_matches(row, q)} for row in rows]
    for index, row in enumerate(rows):
        described = ", ".join(f"{k}={row[k]}" for k in ("category", "difficulty", "type") if k in row)
        name = _("paper row %(number)s (%(described)s)", number=index + 1, described=described)
        found = len(matching[index])
        if found < row["count"]:
            problems.append(Problem(row.get("line", 1), _("%(name)s asks for %(count)s questions but the bank has only %(found)s matching", name=name, count=row['count'], found=found)))
            continue
        may_take = sum(min(rows[above]["count"], len(matching[index] & matching[above])) for above in range(index))
        if found - may_take < row["count"]:
            problems.append(Problem(row.get("line", 1), _("%(name)s asks for %(count)s questions but the rows above may take %(may_take)s of its %(found)s matching questions", name=name, count=row['count'], may_take=may_take, found=found)))
    if len(questions) < questions_per_attempt:
        problems.append(Problem(lines.get("questions_per_attempt", 1), _("questions_per_attempt is %(questions_per_attempt)s but the bank has only %(active)s active questions", questions_per_attempt=questions_per_attempt, active=len(questions))))
    max_score = sum(sorted((question_points(q, points) for q in questions), reverse=True)[:questions_per_attempt])
    if max_score > MAX_SCORE:
        problems.append(Problem(lines.get("points", lines.get("questions_per_attempt", 1)),
                                _("a paper could be worth %(max_score)s points; the leaderboard allows at most %(limit)s", max_score=max_score, limit=MAX_SCORE)))
    return problems


def row_matches(row: dict, question) -> bool:
    return all(
        getattr(question, key) == row[key] for key in ("category", "difficulty", "type") if key in row
    )


def question_points(question, points: dict) -> int:
    """A question's own points win over the contest's per-type points (default 1)."""
    if question.points is not None:
        return question.points
    return points.get(question.type, 1)


def import_contest(session, raw: bytes, shift_to_now: bool = False) -> tuple[Contest, bool]:
    """Validate and create or update the contest named by the file's slug.

    The contest is pinned to the newest version of its bank, which must fill the paper
    (check_against_bank): a bank imported later changes nothing until the next import.
    shift_to_now moves the window to start today (00:00 Asia/Shanghai) with the
    same length, so the quickstart's sample contest is open at once.
    """
    valid = validate_contest(raw)
    bank, problems = _checked_bank(session, valid)
    if problems:
        raise BankInvalid(problems)
    if shift_to_now:
        length = valid.ends_at - valid.starts_at
        today = utcnow() + timedelta(hours=8)
        start_local = today.replace(hour=0, minute=0, second=0, microsecond=0)
        shift = start_local - timedelta(hours=8) - valid.starts_at
        valid.starts_at += shift
        valid.ends_at = valid.starts_at + length
        if valid.freeze_at is not None:
            valid.freeze_at += shift
    contest = session.scalar(select(Contest).where(Contest.slug == valid.slug))
    created = contest is None
    if created:
        contest = Contest(slug=valid.slug)
        session.add(contest)
    for key in ("title", "theme", "starts_at", "ends_at", "time_limit_s", "questions_per_attempt",
                "paper", "points", "attempts_per_day", "max_attempts", "districts", "units", "townships",
                "district_rank_by", "freeze_at", "organizer", "awards", "objection_days", "certificate_min_score",
                "question_time_s", "featured"):
        setattr(contest, key, getattr(valid, key))
    contest.paper = [{k: v for k, v in row.items() if k != "line"} for row in valid.paper]
    contest.groups = [g | ({"paper": [{k: v for k, v in row.items() if k != "line"} for row in g["paper"]]}
                           if "paper" in g else {}) for g in valid.groups]
    contest.bank_slug = valid.bank
    contest.bank_id = bank.id  # pinned: a newer version waits for the next import
    contest.practice_bank_slug = valid.practice_bank
    contest.personal_data_days = valid.personal_data_days
    contest.updated_at = utcnow()
    session.commit()
    return contest, created

"""`bank lint`: warnings about a valid bank that a citizen could game or an editor should fix.

Plain functions over the validator's questions (each keeps its line). Nothing here is an
error: a bank that validates can be imported whatever lint says. The checks and their
thresholds are documented in docs/question-bank.md (section "Lint"):

| check | warns when |
|---|---|
| blind strategy | always answering the same keys (or the longest option) scores more than 30 % of a type's questions (judge: more than 60 %) |
| key position | a position is a key in a share of questions outside expected ± 20 % (single: 20–30 % for four options) |
| answer count | one number of keys holds more than half of the multiple-choice questions |
| near duplicate | two stems' character-bigram sets have a Jaccard similarity of at least 0.6 |
| giveaway | a stem or keyed option contains another question's answer text and shares a rare trigram with that question's stem |
| option length | a question's longest option is at least 3 times and 10 characters longer than its shortest |
| difficulty | (facility given) a label disagrees with the measured share of correct answers |

The statistical checks (the first three) need at least MIN_QUESTIONS questions of a type.
"""
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from math import ceil

from quiz.bank.loader import Problem, place
from quiz.bank.validator import ValidBank, ValidQuestion
from quiz.i18n import _, question_type_name

MIN_QUESTIONS = 20  # fewer questions of a type: shares are noise, not bias
BLIND_LIMIT = {"single": 0.30, "multiple": 0.30, "judge": 0.60}
POSITION_TOLERANCE = 0.20  # relative to the expected share
COUNT_SHARE_LIMIT = 0.50  # one number of keys in multiple choice
NEAR_DUPLICATE = 0.6  # Jaccard similarity of the stems' character bigrams
LENGTH_RATIO, LENGTH_GAP = 3.0, 10  # an option at least 3x and 10 characters longer than another
GIVEAWAY_MIN_CHARS = 2
# Facility (share of correct answers) each label should show; outside the band is a warning.
FACILITY_BANDS = {1: (0.50, 1.01), 2: (0.25, 0.95), 3: (0.0, 0.85)}

_NOISE = re.compile(r"[\s\"'“”‘’「」『』《》（）()，,。.、；;：:！!？?·—\-…]+")


@dataclass(frozen=True)
class LintWarning(Problem):
    check: str = ""  # blind-strategy, key-position, answer-count, near-duplicate, giveaway, option-length, difficulty


@dataclass
class LintReport:
    warnings: list[LintWarning] = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # per type: the blind strategies' scores and counts

    def summary_lines(self) -> list[str]:
        """The figures as short lines for the CLI and the console."""
        lines = []
        for qtype in ("single", "multiple", "judge"):
            fig = self.figures.get(qtype)
            if not fig:
                continue
            best = fig["best"]
            n = fig["questions"]
            text = _("%(type)s: %(n)s questions; best blind strategy %(strategy)s %(pct)s (%(correct)s of %(n)s)",
                     type=question_type_name(qtype), n=n, strategy=strategy_name(best["name"]),
                     pct=_pct(best["correct"], n), correct=best["correct"])
            if qtype == "single":
                text += _("; the key is the only longest option in %(unique)s, the longest or tied for it in %(tied)s, "
                          "the first of the longest in %(first)s", unique=_pct(fig["longest_unique"], n),
                          tied=_pct(fig["longest_or_tied"], n), first=_pct(fig["strategies"]["always the longest option"], n))
            if qtype == "multiple":
                text += _("; keys per question %(counts)s",
                          counts=", ".join(f"{k}: {v}" for k, v in sorted(fig["key_counts"].items())))
            if qtype == "judge":
                text += _("; true %(pct)s", pct=_pct(fig["true"], n))
            lines.append(text)
        return lines


def strategy_name(name: str) -> str:
    """A blind strategy's key ("always A", "always the 2 longest options", "always true") in words."""
    words = name.split()
    if name == "always the longest option":
        return _("always the longest option")
    if name.startswith("always the "):
        return _("always the %(k)s longest options", k=words[2])
    if name in ("always true", "always false"):
        return _("always true") if name == "always true" else _("always false")
    return _("always %(keys)s", keys=words[1])


def _pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "–"


def lint_bank(bank: ValidBank, facility: dict | None = None) -> LintReport:
    """Every lint warning of a validated bank, sorted by line.

    facility: optional {qid: share of correct answers} measured in contests (only
    questions with enough answers); without it the difficulty check is skipped.
    """
    report = LintReport()
    questions = bank.questions
    by_type = defaultdict(list)
    for q in questions:
        by_type[q.type].append(q)
    for qtype, check in (("single", _single), ("multiple", _multiple), ("judge", _judge)):
        if by_type[qtype]:
            report.figures[qtype] = check(by_type[qtype], report.warnings)
    report.warnings.extend(near_duplicates(questions))
    report.warnings.extend(giveaways(questions))
    report.warnings.extend(_option_lengths(questions))
    if facility:
        report.warnings.extend(difficulty_mismatches(questions, facility))
    report.warnings.sort(key=lambda w: (w.line, w.check))
    return report


# ---- blind strategies and key bias ------------------------------------------------

def _length(text: str) -> int:
    return len(text.strip())


def longest_keys(q: ValidQuestion, k: int = 1) -> list[str]:
    """The k longest options' keys; ties go to the earlier option (what a citizen tapping the first would get)."""
    order = sorted(range(len(q.options)), key=lambda i: (-_length(q.options[i][1]), i))
    return sorted(q.options[i][0] for i in order[:k])


def _warn(warnings, q: ValidQuestion, check: str, message: str) -> None:
    warnings.append(LintWarning(q.line, message, q.qid, check))


def _first(qs, predicate):
    return next((q for q in qs if predicate(q)), qs[0])


def _single(qs: list[ValidQuestion], warnings: list) -> dict:
    n = len(qs)
    keys = Counter(q.answer[0] for q in qs)
    strategies = {f"always {key}": count for key, count in keys.items()}
    strategies["always the longest option"] = sum(1 for q in qs if longest_keys(q) == q.answer)
    longest_unique = longest_or_tied = 0
    for q in qs:
        lengths = {key: _length(text) for key, text in q.options}
        top = max(lengths.values())
        if lengths[q.answer[0]] == top:
            longest_or_tied += 1
            longest_unique += list(lengths.values()).count(top) == 1
    figure = _figure(qs, strategies) | {"longest_unique": longest_unique, "longest_or_tied": longest_or_tied,
                                        "key_positions": dict(sorted(keys.items()))}
    if n >= MIN_QUESTIONS:
        _blind_warning(qs, figure, "single", warnings)
        for key, low, high, share, having in _position_bias(qs):
            example = _first(qs, lambda q, key=key: q.answer == [key])
            _warn(warnings, example, "key-position",
                  _("single choice: option %(key)s is the key in %(pct)s (%(share)s of %(having)s); expected "
                    "%(low)s–%(high)s %%", key=key, pct=_pct(share, having), share=share, having=having,
                    low=round(100 * low), high=round(100 * high)))
    return figure


def _multiple(qs: list[ValidQuestion], warnings: list) -> dict:
    n = len(qs)
    sets = Counter(tuple(q.answer) for q in qs)
    strategies = {f"always {','.join(keys)}": count for keys, count in sets.items()}
    widest = max(len(q.options) for q in qs)
    for k in range(2, widest + 1):
        strategies[f"always the {k} longest options"] = sum(1 for q in qs if longest_keys(q, k) == q.answer)
    counts = Counter(len(q.answer) for q in qs)
    figure = _figure(qs, strategies) | {"key_counts": dict(sorted(counts.items()))}
    if n >= MIN_QUESTIONS:
        _blind_warning(qs, figure, "multiple", warnings)
        keys_per, most = counts.most_common(1)[0]
        if most / n > COUNT_SHARE_LIMIT:
            example = _first(qs, lambda q: len(q.answer) == keys_per)
            _warn(warnings, example, "answer-count",
                  _("multiple choice: %(most)s of %(n)s questions (%(pct)s) have exactly %(keys)s keys (by number "
                    "of keys: %(counts)s); a citizen learns how many to tick", most=most, n=n, pct=_pct(most, n),
                    keys=keys_per, counts=", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))))
        for key, low, high, share, having in _position_bias(qs):
            example = _first(qs, lambda q, key=key: key in q.answer)
            _warn(warnings, example, "key-position",
                  _("multiple choice: option %(key)s is a key in %(pct)s (%(share)s of %(having)s); expected "
                    "%(low)s–%(high)s %%", key=key, pct=_pct(share, having), share=share, having=having,
                    low=round(100 * low), high=round(100 * high)))
    return figure


def _judge(qs: list[ValidQuestion], warnings: list) -> dict:
    true = sum(1 for q in qs if q.answer == ["true"])
    figure = _figure(qs, {"always true": true, "always false": len(qs) - true}) | {"true": true}
    if len(qs) >= MIN_QUESTIONS:
        _blind_warning(qs, figure, "judge", warnings)
    return figure


def _figure(qs, strategies: dict) -> dict:
    name, correct = max(strategies.items(), key=lambda kv: (kv[1], kv[0] != "always the longest option"))
    return {"questions": len(qs), "strategies": strategies, "best": {"name": name, "correct": correct}}


def _blind_warning(qs, figure: dict, qtype: str, warnings: list) -> None:
    best, n = figure["best"], figure["questions"]
    if best["correct"] / n <= BLIND_LIMIT[qtype]:
        return
    name = best["name"]
    if name.startswith("always the"):
        k = 1 if qtype == "single" else int(name.split()[2])
        example = _first(qs, lambda q: longest_keys(q, k) == q.answer)
    elif qtype == "judge":
        example = _first(qs, lambda q: q.answer == [name.split()[1]])
    else:
        keys = name.split()[1].split(",")
        example = _first(qs, lambda q: q.answer == keys)
    _warn(warnings, example, "blind-strategy",
          _("%(type)s: answering %(strategy)s without reading scores %(pct)s (%(correct)s of %(n)s); at most "
            "%(limit)s %% wanted", type=question_type_name(qtype), strategy=strategy_name(name),
            pct=_pct(best["correct"], n), correct=best["correct"], n=n, limit=round(100 * BLIND_LIMIT[qtype])))


def _position_bias(qs: list[ValidQuestion]):
    """(key, low, high, questions keyed there, questions having the key) for each position outside its band."""
    having, keyed, expected = Counter(), Counter(), Counter()
    for q in qs:
        share = len(q.answer) / len(q.options)
        for key, _text in q.options:
            having[key] += 1
            expected[key] += share
            keyed[key] += key in q.answer
    for key in sorted(having):
        if having[key] < MIN_QUESTIONS:
            continue
        mean = expected[key] / having[key]
        low, high = mean * (1 - POSITION_TOLERANCE), min(1.0, mean * (1 + POSITION_TOLERANCE))
        if not low - 1e-9 <= keyed[key] / having[key] <= high + 1e-9:
            yield key, low, high, keyed[key], having[key]


# ---- near duplicates, giveaways, option lengths --------------------------------------

def _grams(text: str, n: int) -> set:
    text = _NOISE.sub("", text)
    return {text[i:i + n] for i in range(len(text) - n + 1)} or {text}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def near_duplicates(questions: list[ValidQuestion], threshold: float = NEAR_DUPLICATE) -> list[LintWarning]:
    """Stems whose character-bigram sets have Jaccard similarity >= threshold.

    Each stem is compared with the first stem of every group found so far (prefix
    filtering on the rarest bigrams), so a group of near-copies is reported once per
    copy, against its first member, and a bank of 10,000 copies stays linear.
    """
    grams = [_grams(q.stem, 2) for q in questions]
    df = Counter(g for s in grams for g in s)
    leaders_by_gram: dict = defaultdict(list)
    leaders: list[int] = []
    warnings = []
    for i, s in enumerate(grams):
        ordered = sorted(s, key=lambda g: (df[g], g))
        prefix = ordered[: len(s) - ceil(threshold * len(s)) + 1]
        seen: set = set()
        match = None
        for g in prefix:
            for j in leaders_by_gram.get(g, ()):
                if j in seen:
                    continue
                seen.add(j)
                similarity = jaccard(s, grams[j])
                if similarity >= threshold:
                    match = (j, similarity)
                    break
            if match:
                break
        if match:
            j, similarity = match
            q, other = questions[i], questions[j]
            warnings.append(LintWarning(q.line, _("stem is %(pct)s %% similar to question %(other)s (%(place)s)",
                                                  pct=round(100 * similarity), other=other.qid, place=place(other.line)),
                                        q.qid, "near-duplicate"))
            continue
        leaders.append(i)
        for g in prefix:
            leaders_by_gram[g].append(i)
    return warnings


def answer_texts(q: ValidQuestion) -> list[str]:
    """The texts a citizen could copy from elsewhere: the keyed options (none for judge questions)."""
    if q.type == "judge":
        return []
    options = dict(q.options)
    return [options[key] for key in q.answer]


def _visible_texts(q: ValidQuestion) -> list[str]:
    """What a paper shows as true: the stem and the keyed options (a distractor presents its text as wrong)."""
    return [q.stem, *answer_texts(q)]


def giveaways(questions: list[ValidQuestion]) -> list[LintWarning]:
    """Pairs where one question's stem or keyed option contains another's answer text and
    the two share a trigram that is rare in the bank (so '1970年' in an unrelated stem is no giveaway)."""
    texts = [_NOISE.sub("", " ".join(_visible_texts(q))) for q in questions]
    stem_grams = [_grams(q.stem, 3) for q in questions]
    text_grams = [_grams(t, 3) for t in texts]
    df = Counter(g for s in text_grams for g in s)
    rare = max(5, len(questions) // 100)
    postings: dict = defaultdict(set)
    bigrams: dict = defaultdict(set)
    for j, t in enumerate(texts):
        for g in text_grams[j]:
            postings[g].add(j)
        for k in range(len(t) - 1):
            bigrams[t[k:k + 2]].add(j)
    found = {}
    for i, q in enumerate(questions):
        distinctive = {g for g in stem_grams[i] if df.get(g, 0) <= rare}
        if not distinctive:
            continue
        for answer in answer_texts(q):
            answer = _NOISE.sub("", answer)
            if len(answer) < GIVEAWAY_MIN_CHARS:
                continue
            if len(answer) == 2:
                candidates = bigrams.get(answer, set())
            else:
                grams = [answer[k:k + 3] for k in range(len(answer) - 2)]
                candidates = min((postings.get(g, set()) for g in grams), key=len)
            for j in candidates:
                if j == i or answer not in texts[j]:
                    continue
                # The answer itself is no context: '四级' in two unrelated stems shares '四级其' and nothing else.
                context = distinctive & _grams(_NOISE.sub("", q.stem).replace(answer, "|"), 3)
                if not context & _grams(texts[j].replace(answer, "|"), 3):
                    continue
                pair = (min(i, j), max(i, j))
                found.setdefault(pair, (i, j, answer))
    warnings = []
    for i, j, answer in found.values():
        q, other = questions[i], questions[j]
        warnings.append(LintWarning(q.line, _("giveaway: question %(other)s (%(place)s) shows this question's answer "
                                              "'%(answer)s' in the same paper", other=other.qid,
                                              place=place(other.line), answer=answer), q.qid, "giveaway"))
    return warnings


def _option_lengths(questions: list[ValidQuestion]) -> list[LintWarning]:
    warnings = []
    for q in questions:
        if not q.options:
            continue
        lengths = {key: _length(text) for key, text in q.options}
        long_key = max(lengths, key=lengths.get)
        short_key = min(lengths, key=lengths.get)
        longest, shortest = lengths[long_key], lengths[short_key]
        if longest >= LENGTH_RATIO * shortest and longest - shortest >= LENGTH_GAP:
            keyed = _(" (a key)") if long_key in q.answer else ""
            warnings.append(LintWarning(q.line, _("options of unequal length: %(long)s%(keyed)s has %(longest)s characters, "
                                                  "%(short)s has %(shortest)s", long=long_key, keyed=keyed,
                                                  longest=longest, short=short_key, shortest=shortest),
                                        q.qid, "option-length"))
    return warnings


# ---- difficulty against measured facility -----------------------------------------

def label_for_facility(share: float) -> int:
    """The label a measured facility suggests: 1 from 80 %, 3 below 50 %."""
    return 1 if share >= 0.8 else 2 if share >= 0.5 else 3


def difficulty_mismatches(questions: list[ValidQuestion], facility: dict) -> list[LintWarning]:
    warnings = []
    for q in questions:
        share = facility.get(q.qid)
        if share is None:
            continue
        low, high = FACILITY_BANDS[q.difficulty]
        if not low <= share < high:
            warnings.append(LintWarning(
                q.line, _("difficulty %(difficulty)s but %(pct)s %% answer correctly; the facility suggests %(label)s",
                          difficulty=q.difficulty, pct=round(100 * share), label=label_for_facility(share)),
                q.qid, "difficulty"))
    return warnings

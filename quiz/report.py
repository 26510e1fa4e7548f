"""The summary report of a contest (总结报告): the figures organizers file after it ends.

Each figure is defined once, elsewhere, and read here:
- 参与人数 (participants): citizens counted in the contest (leaderboard.counted_accounts)
  with at least one finished timed attempt, and their best score and full score
  (满分): quiz/units.py `_participants`, read through units.participants.
- 人次: finished timed attempts of those citizens (stats.finished_attempts).
- participants per 10,000 residents: stats.per_10k; the score distribution (per 人次, as a
  share of the paper's maximum): stats.score_distribution; per unit: units.unit_board;
  question correct rates and the MIN_ANSWERS rule: stats.question_statistics.
A day is the Asia/Shanghai calendar day an attempt started (Attempt.day), so a citizen who
took part on two days counts once on each day and once in the totals.
"""
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from quiz import figures, stats, units
from quiz.accounts import mask_name
from quiz.clock import local, local_day
from quiz.models import Attempt, Award, Contest, User
from quiz.stats import MIN_ANSWERS, QuestionFigure

TOP_QUESTIONS = 10  # the hardest and the easiest questions listed


@dataclass
class DayFigure:
    day: str  # YYYY-MM-DD, Asia/Shanghai
    participants: int
    attempts: int


@dataclass
class DistrictFigure:
    """Participants' figures of one district (or, as the report's total, of all in scope)."""
    code: str
    name: str
    population: int
    participants: int = 0
    attempts: int = 0
    best_score_sum: int = 0
    full_scores: int = 0

    @property
    def per_10k(self) -> float:
        return stats.per_10k(self.participants, self.population)

    @property
    def average_best_score(self) -> float | None:
        """平均分 (quiz.figures.average_score): mean of the participants' best scores, 2 decimals;
        None without participants."""
        return figures.average_score(self.best_score_sum, self.participants)

    @property
    def full_score_rate(self) -> float:
        """Share of the participants with a full score, 0–1."""
        return self.full_scores / self.participants if self.participants else 0.0


@dataclass
class Winner:
    position: int
    name: str  # masked
    district: str  # the district's name
    unit: str
    score: int


@dataclass
class AwardTier:
    name: str
    kind: str | None = None  # models.AWARD_RANKED, AWARD_DISTRICT or AWARD_DRAW, from the awards
    winners: list[Winner] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.winners)


@dataclass
class Report:
    contest: Contest
    district: str | None  # None: the whole city
    district_name: str | None
    made_at: datetime
    total: DistrictFigure
    days: list[DayFigure]
    districts: list[DistrictFigure]
    units: list[dict]  # units.unit_board rows; [] when the contest lists no units
    score_buckets: list[tuple[str, int]]
    hardest: list[QuestionFigure]
    easiest: list[QuestionFigure]
    min_answers: int
    awards: list[AwardTier]  # [] before awards are assigned (尚未评奖)


def summary_report(session, contest: Contest, now: datetime, district: str | None = None,
                   min_answers: int = MIN_ANSWERS) -> Report:
    """The report of the whole city (district None) or of one district code."""
    districts = district_figures(session, contest, district)
    total = DistrictFigure("", "合计", sum(d.population for d in districts))
    for figure in districts:
        total.participants += figure.participants
        total.attempts += figure.attempts
        total.best_score_sum += figure.best_score_sum
        total.full_scores += figure.full_scores
    hardest, easiest = hardest_and_easiest(session, contest, district, min_answers)
    return Report(
        contest=contest, district=district,
        district_name=contest.district_names().get(district) if district else None,
        made_at=now, total=total, days=day_figures(session, contest, now, district), districts=districts,
        units=units.unit_board(session, contest, district) if contest.units else [],
        score_buckets=stats.score_distribution(session, contest, district),
        hardest=hardest, easiest=easiest, min_answers=min_answers,
        awards=award_tiers(session, contest, district),
    )


def day_figures(session, contest: Contest, now: datetime, district: str | None = None) -> list[DayFigure]:
    """Participants and 人次 on each day of the contest window (up to today while it runs),
    days without attempts included as zeros."""
    rows = session.execute(
        select(Attempt.day, func.count(Attempt.user_id.distinct()), func.count())
        .select_from(Attempt).join(User, User.id == Attempt.user_id)
        .where(stats.finished_attempts(contest, district)).group_by(Attempt.day)
    ).all()
    counts = {day: (participants, attempts) for day, participants, attempts in rows}
    first = date.fromisoformat(local_day(contest.starts_at))
    last = date.fromisoformat(local_day(min(contest.ends_at, max(now, contest.starts_at))))
    days = {(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)} | set(counts)
    return [DayFigure(day, *counts.get(day, (0, 0))) for day in sorted(days)]


def district_figures(session, contest: Contest, district: str | None = None) -> list[DistrictFigure]:
    """Each district of the contest (or only `district`), in the contest file's order."""
    p = units.participants(contest)
    query = (select(p.c.district, func.count(), func.sum(p.c.attempts), func.sum(p.c.best),
                    func.count().filter(p.c.full))
             .group_by(p.c.district))
    if district is not None:
        query = query.where(p.c.district == district)
    by_code = {code: (n, int(attempts), int(best or 0), full)
               for code, n, attempts, best, full in session.execute(query)}
    figures = []
    for d in contest.districts:
        if district is None or d["code"] == district:
            figures.append(DistrictFigure(d["code"], d["name"], d["population"], *by_code.get(d["code"], (0, 0, 0, 0))))
    return figures


def hardest_and_easiest(session, contest: Contest, district: str | None = None,
                        min_answers: int = MIN_ANSWERS) -> tuple[list[QuestionFigure], list[QuestionFigure]]:
    """The TOP_QUESTIONS lowest and highest correct rates among questions answered at least
    min_answers times (fewer answers say little); ties: more answers first, then qid. With
    fewer than twice TOP_QUESTIONS such questions the two lists share some."""
    figures = [f for f in stats.question_statistics(session, contest, district, min_answers) if f.enough]
    hardest = sorted(figures, key=lambda f: (f.correct_rate, -f.answers, f.qid))[:TOP_QUESTIONS]
    easiest = sorted(figures, key=lambda f: (-f.correct_rate, -f.answers, f.qid))[:TOP_QUESTIONS]
    return hardest, easiest


def award_tiers(session, contest: Contest, district: str | None = None) -> list[AwardTier]:
    """The assigned and drawn prizes per tier, in the contest file's order (higher first),
    winners by position; winners of one district only when `district` is given. [] until
    awards are assigned (尚未评奖); then every tier, a tier nobody won (yet) with no winners."""
    query = (select(Award, User).join(User, User.id == Award.user_id).where(Award.contest_id == contest.id)
             .order_by(Award.tier, Award.position, User.id))
    if district is not None:
        query = query.where(User.district == district)
    rows = session.execute(query).all()
    if not rows and contest.awards_assigned_at is None:
        return []
    tiers = {tier["name"]: AwardTier(tier["name"]) for tier in contest.awards or []}
    names = contest.district_names()
    for award, user in rows:
        tier = tiers.setdefault(award.tier, AwardTier(award.tier))
        tier.kind = award.kind
        tier.winners.append(Winner(award.position, mask_name(user.name),
                                   names.get(user.district, user.district or ""), user.unit or "", award.score))
    return list(tiers.values())


# ---- the workbook's sheets ----------------------------------------------------------

PERCENT = "0.0%"  # the number format of a share cell (the value stays a number, 0–1)


@dataclass
class Sheet:
    name: str
    rows: list[tuple]  # the header first
    percent_columns: tuple[int, ...] = ()  # 0-based columns holding shares


def report_sheets(report: Report) -> list[Sheet]:
    """The report as spreadsheet sheets, one per section; numbers stay numbers."""
    contest, total = report.contest, report.total
    names = contest.district_names()
    return [
        Sheet("概况", [("项目", "内容"), ("竞赛", contest.title), ("主题", contest.theme or ""),
                      ("开始", _local(contest.starts_at)), ("结束", _local(contest.ends_at)),
                      ("主办单位", contest.organizer or ""), ("范围", report.district_name or "全市"),
                      ("报告生成时间", _local(report.made_at)), ("参与人数", total.participants),
                      ("答题人次", total.attempts), ("每万常住人口参与人数", round(total.per_10k, 2)),
                      ("平均最好成绩", _round(total.average_best_score)), ("满分率", round(total.full_score_rate, 4))]),
        Sheet("按日", [("日期", "参与人数", "答题人次")] + [(d.day, d.participants, d.attempts) for d in report.days]),
        Sheet("按区县", [("区县代码", "区县", "常住人口", "参与人数", "答题人次", "每万人参与人数", "平均最好成绩", "满分率")]
              + [(d.code, d.name, d.population, d.participants, d.attempts, round(d.per_10k, 2),
                  _round(d.average_best_score), round(d.full_score_rate, 4)) for d in [*report.districts, total]],
              percent_columns=(7,)),
        Sheet("按单位", [("单位代码", "单位", "区县", "参与人数", "答题人次", "平均最好成绩", "满分率")]
              + [(u["code"], u["name"], names.get(u["district"], u["district"]), u["participants"], u["attempts"],
                  u["average_score"], u["full_score_rate"]) for u in report.units],
              percent_columns=(6,)),
        Sheet("分数分布", [("得分（占满分）", "答题人次")] + list(report.score_buckets)),
        Sheet("最难题目", _question_rows(report.hardest), percent_columns=(6,)),
        Sheet("最易题目", _question_rows(report.easiest), percent_columns=(6,)),
        Sheet("奖项", [("奖项", "获奖人数", "名次", "姓名", "区县", "单位", "成绩")]
              + ([(tier.name, tier.count, w.position, w.name, w.district, w.unit, w.score)
                  for tier in report.awards for w in tier.winners]
                 + [(tier.name, 0, None, None, None, None, None) for tier in report.awards if not tier.winners]
                 if report.awards else [("尚未评奖",)])),
    ]


def _question_rows(figures: list[QuestionFigure]) -> list[tuple]:
    return [("序号", "题号", "题目", "题型", "作答次数", "答对次数", "正确率")] + [
        (n, f.qid, f.stem, f.type, f.answers, f.correct, round(f.correct_rate, 4)) for n, f in enumerate(figures, 1)]


def _round(value: float | None) -> float | None:
    return round(value, 2) if value is not None else None


def _local(moment: datetime) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M")

"""Prizes: assigning the ranked and per-district tiers, the verifiable draw, 公示 and claims.

Every prize reads quiz.standings.final_standings, so disqualified, staff, organizer and
closed accounts never win. One prize per citizen and contest (a unique row in `awards`):
tiers are taken in the contest file's order, the higher tier first.

- ranks [a, b]: the citizens at city ranks a..b. A citizen there who already holds a
  higher prize keeps it and that rank gives no prize in this tier (a rank is a rank).
- per_district N: in each district, the first N citizens by district rank who hold no
  prize yet, so every district with enough citizens gets N prizes (a slot whose citizen
  holds a higher prize passes to the district's next citizen).
- draw N, min_score M: N winners drawn among the citizens scoring at least M who hold no
  prize yet, by the algorithm of docs/awards.md (draw_order), with a seed given at the draw.

The draw's eligible list and its SHA-256 are fixed by the standings and the prizes
already given, so `eligible` can be published before the draw and anyone can re-run it.
"""
import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from quiz.accounts import mask_name, mask_phone, storable
from quiz.clock import local
from quiz.models import AWARD_DISTRICT, AWARD_DRAW, AWARD_RANKED, CLAIM_STATES, Award, AwardDraw, Contest, User
from quiz.standings import final_standings
from quiz.web.audit import record as audit

CLAIM_NAMES = {"pending": "待联系", "contacted": "已联系", "verified": "已核实", "sent": "已寄送"}
MAX_NOTE = 500


class AwardsRefused(Exception):
    """An awards step that cannot be taken now (the message says why, in Chinese)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _when(moment: datetime) -> str:
    return local(moment).strftime("%Y-%m-%d %H:%M")


def tier_kind(tier: dict) -> str:
    if "ranks" in tier:
        return AWARD_RANKED
    return AWARD_DISTRICT if "per_district" in tier else AWARD_DRAW


def tier_rule(tier: dict) -> str:
    """What a tier gives, for people: 第 1–10 名 / 各区县前 5 名 / 抽奖 200 名（80 分及以上）."""
    if "ranks" in tier:
        first, last = tier["ranks"]
        return f"第 {first} 名" if first == last else f"第 {first}–{last} 名"
    if "per_district" in tier:
        return f"各区县前 {tier['per_district']} 名"
    return f"抽奖 {tier['draw']} 名（{tier.get('min_score', 0)} 分及以上）"


def find_tier(contest: Contest, name: str) -> dict | None:
    return next((t for t in contest.awards or [] if t["name"] == name), None)


def _draws(session, contest: Contest) -> dict[str, AwardDraw]:
    return {d.tier: d for d in session.scalars(select(AwardDraw).where(AwardDraw.contest_id == contest.id))}


# ---- assign: ranked and per-district tiers ------------------------------------------

@dataclass
class Assignment:
    per_tier: list[tuple[dict, int]]  # (tier, winners) for the ranked and district tiers
    changed: int  # rows added, changed or removed


def ranked_winners(session, contest: Contest) -> dict[int, tuple[str, str, int, int]]:
    """user id -> (tier, kind, position, score) for the ranked and per-district tiers."""
    tiers = [t for t in contest.awards or [] if tier_kind(t) != AWARD_DRAW]
    if not tiers:
        return {}
    deepest = max([t["ranks"][1] for t in tiers if "ranks" in t] or [0])
    # A per-district tier may need any depth of the standings; ranks alone stop at the deepest rank.
    rows = final_standings(session, contest, limit=None if any("per_district" in t for t in tiers) else deepest)
    rows = list(rows)
    winners: dict[int, tuple[str, str, int, int]] = {}
    for tier in tiers:
        if "ranks" in tier:
            first, last = tier["ranks"]
            for row in rows[first - 1:last]:
                winners.setdefault(row.user_id, (tier["name"], AWARD_RANKED, row.rank, row.score))
        else:
            given: dict[str, int] = {}
            for row in rows:  # rank order: within a district, district-rank order
                if row.district is None or row.user_id in winners or given.get(row.district, 0) >= tier["per_district"]:
                    continue
                given[row.district] = given.get(row.district, 0) + 1
                winners[row.user_id] = (tier["name"], AWARD_DISTRICT, row.district_rank, row.score)
    return winners


def assign(session, contest: Contest, now: datetime, actor=None) -> Assignment:
    """Store the ranked and per-district prizes (after ends_at; before publication).
    Repeating it gives the same rows; a winner whose prize is unchanged keeps their claim
    status and note. Refused when a draw was made and the result would change (the draw's
    eligible list depended on it)."""
    if now < contest.ends_at:
        raise AwardsRefused(f"竞赛 {_when(contest.ends_at)} 结束后才能评奖")
    if contest.awards_published_at is not None:
        raise AwardsRefused(f"获奖名单已于 {_when(contest.awards_published_at)} 公示，不能重新评奖")
    if not contest.awards:
        raise AwardsRefused("竞赛文件没有设置奖项（awards）")
    wanted = ranked_winners(session, contest)
    existing = {a.user_id: a for a in session.scalars(select(Award).where(
        Award.contest_id == contest.id, Award.kind != AWARD_DRAW))}
    changed = sum(1 for uid in existing if uid not in wanted) + sum(
        1 for uid, prize in wanted.items()
        if uid not in existing or (existing[uid].tier, existing[uid].kind, existing[uid].position,
                                   existing[uid].score) != prize)
    if changed and _draws(session, contest):
        raise AwardsRefused("已经抽过奖，评奖结果会改变（抽奖名单基于原结果），不能重新评奖")
    for uid, award in existing.items():
        if uid not in wanted:
            session.delete(award)
    session.flush()
    for uid, (tier, kind, position, score) in wanted.items():
        award = existing.get(uid)
        if award is None:
            session.add(Award(contest_id=contest.id, user_id=uid, tier=tier, kind=kind, position=position,
                              score=score, assigned_at=now))
            continue
        if award.tier != tier:  # another prize: its claim starts over
            award.claim_status, award.claim_updated_at = "pending", None
        award.tier, award.kind, award.position, award.score = tier, kind, position, score
    contest.awards_assigned_at = now
    session.commit()
    per_tier = [(t, sum(1 for prize in wanted.values() if prize[0] == t["name"]))
                for t in contest.awards if tier_kind(t) != AWARD_DRAW]
    audit(session, actor, "awards.assign", f"{contest.slug} winners={len(wanted)} changed={changed}")
    return Assignment(per_tier, changed)


# ---- the draw -------------------------------------------------------------------------

def eligible_text(user_ids) -> str:
    """The published eligible list: user ids ascending, as decimal strings joined by "\\n"."""
    return "\n".join(str(uid) for uid in sorted(user_ids))


def draw_order(user_ids, seed: str) -> tuple[str, list[int]]:
    """(SHA-256 hex of eligible_text, every id in draw order). A Fisher–Yates shuffle of the
    ascending ids: for i from n-1 down to 1, j = int(sha256(f"{seed}\\n{digest}\\n{i}"), 16) % (i + 1),
    swap. docs/awards.md restates this in plain Python; the tests check that they agree."""
    text = eligible_text(user_ids)
    digest = hashlib.sha256(text.encode()).hexdigest()
    order = sorted(user_ids)
    for i in range(len(order) - 1, 0, -1):
        j = int(hashlib.sha256(f"{seed}\n{digest}\n{i}".encode()).hexdigest(), 16) % (i + 1)
        order[i], order[j] = order[j], order[i]
    return digest, order


@dataclass
class Eligible:
    tier: dict
    standings: dict  # user id -> Standing, ascending user id

    @property
    def user_ids(self) -> list[int]:
        return list(self.standings)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(eligible_text(self.standings).encode()).hexdigest()


def _draw_tier(contest: Contest, tier_name: str) -> dict:
    tier = find_tier(contest, tier_name)
    if tier is None or tier_kind(tier) != AWARD_DRAW:
        names = "、".join(t["name"] for t in contest.awards or [] if tier_kind(t) == AWARD_DRAW) or "（无）"
        raise AwardsRefused(f"没有抽奖奖项「{tier_name}」；本竞赛的抽奖奖项：{names}")
    return tier


def eligible(session, contest: Contest, tier_name: str) -> Eligible:
    """Who may win the draw tier: final standings rows scoring at least min_score that hold
    no prize yet, by ascending user id. Needs assign first."""
    tier = _draw_tier(contest, tier_name)
    if contest.awards_assigned_at is None:
        raise AwardsRefused("请先评奖（flask --app wsgi awards assign），再抽奖")
    awarded = set(session.scalars(select(Award.user_id).where(Award.contest_id == contest.id)))
    rows = {row.user_id: row for row in final_standings(session, contest)
            if row.score >= tier.get("min_score", 0) and row.user_id not in awarded}
    return Eligible(tier, dict(sorted(rows.items())))


@dataclass
class DrawResult:
    draw: AwardDraw
    winners: list[Award]  # in place order
    repeated: bool  # the same seed again: nothing changed


def draw(session, contest: Contest, tier_name: str, seed: str, now: datetime, actor=None) -> DrawResult:
    """Draw the tier with `seed`. The same seed again returns the stored draw and changes
    nothing; another seed for a drawn tier is refused. Draw tiers go in the file's order."""
    tier = _draw_tier(contest, tier_name)
    if not isinstance(seed, str) or not seed.strip():
        raise AwardsRefused("请给出抽奖种子（--seed），例如事先公布的彩票开奖号码")
    done = _draws(session, contest)
    if tier_name in done:
        previous = done[tier_name]
        if previous.seed != seed:
            raise AwardsRefused(f"「{tier_name}」已于 {_when(previous.drawn_at)} 用种子 {previous.seed!r} 抽过，"
                                "不能换种子重抽")
        return DrawResult(previous, _draw_awards(session, contest, tier_name), repeated=True)
    if contest.awards_published_at is not None:
        raise AwardsRefused(f"获奖名单已于 {_when(contest.awards_published_at)} 公示，不能再抽奖")
    earlier = [t["name"] for t in contest.awards if tier_kind(t) == AWARD_DRAW]
    missing = [name for name in earlier[:earlier.index(tier_name)] if name not in done]
    if missing:
        raise AwardsRefused(f"请先抽「{missing[0]}」：抽奖按竞赛文件中的奖项顺序进行")
    pool = eligible(session, contest, tier_name)
    if not pool.standings:
        raise AwardsRefused(f"「{tier_name}」没有符合条件的市民（{tier.get('min_score', 0)} 分及以上且未获其他奖项）")
    digest, order = draw_order(pool.user_ids, seed)
    winners = order[:tier["draw"]]
    record = AwardDraw(contest_id=contest.id, tier=tier_name, seed=seed, eligible_count=len(order),
                       eligible_sha256=digest, winners=winners, drawn_at=now)
    session.add(record)
    for place, uid in enumerate(winners, start=1):
        session.add(Award(contest_id=contest.id, user_id=uid, tier=tier_name, kind=AWARD_DRAW, position=place,
                          score=pool.standings[uid].score, assigned_at=now))
    session.commit()
    audit(session, actor, "awards.draw", f"{contest.slug} tier={tier_name} seed={seed[:100]} "
                                         f"eligible={len(order)} sha256={digest} winners={len(winners)}")
    return DrawResult(record, _draw_awards(session, contest, tier_name), repeated=False)


def _draw_awards(session, contest: Contest, tier_name: str) -> list[Award]:
    return list(session.scalars(select(Award).where(Award.contest_id == contest.id, Award.tier == tier_name,
                                                    Award.kind == AWARD_DRAW).order_by(Award.position)))


def draws(session, contest: Contest) -> list[AwardDraw]:
    """The draws made, in tier order."""
    order = {t["name"]: n for n, t in enumerate(contest.awards or [])}
    return sorted(_draws(session, contest).values(), key=lambda d: order.get(d.tier, len(order)))


# ---- publication and the winners list ----------------------------------------------------

def publish(session, contest: Contest, now: datetime, actor=None) -> None:
    """公示: the winners list becomes public at `now`, and objections are taken from then."""
    if contest.awards_assigned_at is None:
        raise AwardsRefused("请先评奖（flask --app wsgi awards assign），再公示")
    if contest.awards_published_at is not None:
        raise AwardsRefused(f"获奖名单已于 {_when(contest.awards_published_at)} 公示")
    contest.awards_published_at = now
    session.commit()
    audit(session, actor, "awards.publish", contest.slug)


@dataclass
class Winner:
    award: Award
    user: User
    tier_index: int

    @property
    def name_masked(self) -> str:
        return mask_name(self.user.name)

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.user.phone)


def winners(session, contest: Contest, district: str | None = None) -> list[Winner]:
    """Every prize, in tier order then position; `district` keeps that district's winners."""
    order = {t["name"]: n for n, t in enumerate(contest.awards or [])}
    query = select(Award, User).join(User, User.id == Award.user_id).where(Award.contest_id == contest.id)
    if district is not None:
        query = query.where(User.district == district)
    found = [Winner(award, user, order.get(award.tier, len(order))) for award, user in session.execute(query)]
    return sorted(found, key=lambda w: (w.tier_index, w.award.position, w.award.user_id))


def by_tier(found: list[Winner]) -> list[tuple[str, list[Winner]]]:
    groups: dict[str, list[Winner]] = {}
    for winner in found:
        groups.setdefault(winner.award.tier, []).append(winner)
    return list(groups.items())


def published_award(session, contest: Contest, award_id) -> Award | None:
    """A prize of the published list (what an objection may name)."""
    if contest.awards_published_at is None:
        return None
    award = session.get(Award, award_id)
    return award if award is not None and award.contest_id == contest.id else None


# ---- claims --------------------------------------------------------------------------------

def set_claim(session, award: Award, status: str, note: str, now: datetime, actor=None) -> None:
    """Record how far a prize's delivery got (待联系 → 已联系 → 已核实 → 已寄送) and a note."""
    if status not in CLAIM_STATES:
        raise AwardsRefused("领奖状态无效，请从列表中选择")
    note = (note or "").strip()
    if len(note) > MAX_NOTE or not storable(note):
        raise AwardsRefused(f"备注最多 {MAX_NOTE} 个字")
    award.claim_status, award.claim_note, award.claim_updated_at = status, note, now
    session.commit()
    audit(session, actor, "award.claim", f"award={award.id} user={award.user_id} status={status} note={note[:100]}")

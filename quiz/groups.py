"""Contest groups (组别): the contest file's `groups`, [{code, name, paper?}] (docs/contest.md).

When a contest lists groups, a citizen registers in one of them (quiz.accounts.check_fields
refuses a missing or unknown code on field "group") and `users.group` holds its code. Each
attempt copies the group at its start (`attempts.group`, attempt_group): the group's board
(quiz.leaderboard, `g:<code>`) and a group's own paper rules (paper_of) follow the attempt,
so a later change of the citizen's group moves no result. A contest without groups keeps the
optional 人群 of quiz.accounts.GROUPS, and its attempts have no group.
"""


def listed(contest) -> list[dict]:
    """The contest's groups in the file's order ([] without groups or without a contest)."""
    return list(getattr(contest, "groups", None) or [])


def codes(contest) -> set[str]:
    return {g["code"] for g in listed(contest)}


def names(contest) -> dict[str, str]:
    """Group code -> name."""
    return {g["code"]: g["name"] for g in listed(contest)}


def attempt_group(contest, user) -> str | None:
    """The group an attempt of `user` starts in: their group when it is one of the contest's,
    else None (a contest without groups, or an account registered for another contest)."""
    group = getattr(user, "group", None)
    return group if group in codes(contest) else None


def paper_of(contest, group: str | None) -> list:
    """The paper rows an attempt in `group` is drawn with: the group's own `paper` when it has
    one, else the contest's."""
    for g in listed(contest):
        if g["code"] == group and "paper" in g:
            return g["paper"]
    return contest.paper or []

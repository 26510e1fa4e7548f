"""A bank's counts in words, the same for the console and the CLI:
题型：单选 3 题，判断 1 题 / 分类：安全常识 2 题 / 难度：1 级 3 题."""
from quiz.i18n import _, question_type_name

TYPE_ORDER = {"single": 0, "multiple": 1, "judge": 2}


def count_lines(counts: dict, categories: dict | None = None) -> list[tuple[str, str]]:
    """[(label, items)] for ValidBank.counts() or importer.stored_counts(); a category is shown by
    its display name when `categories` (slug: name) knows it."""
    labels = {"type": _("type"), "category": _("category"), "difficulty": _("difficulty")}
    names = {
        "type": question_type_name,
        "category": lambda slug: (categories or {}).get(slug, slug),
        "difficulty": lambda level: _("level %(level)s", level=level),
    }
    lines = []
    for label, values in counts.items():
        name = names.get(label, str)
        order = (lambda kv: (TYPE_ORDER.get(kv[0], 9), str(kv[0]))) if label == "type" else (lambda kv: str(kv[0]))
        items = _(", ").join(_("%(name)s %(count)s questions", name=name(key), count=count)
                             for key, count in sorted(values.items(), key=order))
        lines.append((labels.get(label, label), items))
    return lines

"""The console's and the CLI's messages, from one gettext catalogue (Flask-Babel).

Code writes English msgids with named placeholders, `_("missing question key '%(key)s'", key=key)`;
quiz/translations/zh_CN/LC_MESSAGES/messages.po holds the Chinese. zh_CN is the default locale,
so an English console later is a locale selector and a catalogue, not a rewrite. Text defined at
import time (form labels and choices, names in module-level dicts) uses `_l`, which translates
when the text is used; templates call the same `_()` (tests/functional/test_chinese_messages.py
checks that the console's modules and templates hold no Chinese outside these calls).

Inside an app context (a request, a CLI command) the text comes from the catalogue of the locale
Flask-Babel selects (zh_CN unless a locale selector says otherwise); with no app context at all (a validator called from a plain test or
script) it comes from the zh_CN catalogue itself, so the same words appear either way.

Catalogue upkeep (from the repository root; babel.cfg says where to look):
    scripts/translations.sh            extract the msgids and merge them into messages.po
    (translate the new empty msgstr entries)
    scripts/translations.sh compile    write messages.mo, which the app reads (committed)
"""
from functools import cache
from pathlib import Path

import flask_babel
from babel.support import Translations
from flask import current_app, has_app_context

DEFAULT_LOCALE = "zh_CN"
TRANSLATIONS = Path(__file__).parent / "translations"

babel = flask_babel.Babel()


def init_app(app) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app)
    # Templates' _() and ngettext() read the same catalogues as the code (see _translations).
    app.jinja_env.install_gettext_callables(lambda text: _translations().gettext(text),
                                            lambda one, many, n: _translations().ngettext(one, many, n), newstyle=True)
    app.jinja_env.globals.update(question_type_name=question_type_name, audit_action_name=audit_action_name)


@cache
def _catalogue(folder: str) -> Translations:
    return Translations.load(str(TRANSLATIONS), [folder])


def _translations() -> Translations:
    """The catalogue of the current locale (Flask-Babel's selection) inside an app context, else zh_CN's.

    Babel spells zh_CN as zh_Hans_CN, which gettext would look for under zh_Hans_CN/ or zh/:
    the folder is named language_TERRITORY, as the catalogues are laid out."""
    if has_app_context() and "babel" in current_app.extensions:
        locale = flask_babel.get_locale()
        if locale is not None:
            return _catalogue(f"{locale.language}_{locale.territory}" if locale.territory else locale.language)
    return _catalogue(DEFAULT_LOCALE)


def _(msgid: str, **params) -> str:
    """The translation of msgid, with %(name)s placeholders filled from params."""
    text = _translations().gettext(msgid)
    return text % params if params else text


def _n(singular: str, plural: str, num: int, **params) -> str:
    """ngettext: %(num)s is the number."""
    text = _translations().ngettext(singular, plural, num)
    return text % ({"num": num} | params)


def _l(msgid: str, **params) -> flask_babel.LazyString:
    """_() put off until the text is used: for module-level text (form labels, choices, names),
    so that each request reads the catalogue of its own locale."""
    return flask_babel.LazyString(_, msgid, **params)


def question_type_name(qtype: str) -> str:
    """单选 / 多选 / 判断 for single / multiple / judge; anything else as it is."""
    names = {"single": _("single choice"), "multiple": _("multiple choice"), "judge": _("true or false")}
    return names.get(qtype, qtype)


def audit_action_name(action: str) -> str:
    """The audit log's action code (export, bank.import, admin.create …) as words; unknown codes as they are."""
    names = {
        "admin.create": _("create organizer"),
        "admin.totp": _("enrol second factor"),
        "award.claim": _("update award claim"),
        "awards.assign": _("assign awards"),
        "awards.draw": _("draw awards"),
        "awards.publish": _("publish winners"),
        "bank.import": _("import bank"),
        "citizen.close": _("close account"),
        "citizen.disqualify": _("disqualify citizen"),
        "citizen.district": _("change citizen district"),
        "citizen.practice": _("citizen practice"),
        "citizen.quiz": _("citizen quiz"),
        "citizen.reinstate": _("reinstate citizen"),
        "citizen.staff": _("mark staff account"),
        "citizen.unstaff": _("unmark staff account"),
        "citizens.purge": _("purge personal data"),
        "contest.create": _("create contest"),
        "contest.edit": _("edit contest"),
        "contest.edit_running": _("edit running contest"),
        "contest.import": _("import contest"),
        "contest.unfreeze": _("unfreeze standings"),
        "export": _("export"),
        "objection.answer": _("answer objection"),
        "question.restore": _("restore question"),
        "question.retire": _("retire question"),
        "results.phone": _("look up results by phone"),
    }
    return names.get(action, action)


def N_(msgid: str) -> str:
    """Marks a msgid for extraction where the text is translated later (a parser's message)."""
    return msgid


# libyaml's problems (yaml.MarkedYAMLError.problem), translated where the loader reports them.
YAML_PROBLEMS = (
    N_("mapping values are not allowed in this context"),
    N_("could not find expected ':'"),
    N_("did not find expected key"),
    N_("found character that cannot start any token"),
    N_("did not find expected node content"),
    N_("found undefined tag handle"),
    N_("found unexpected end of stream"),
    N_("did not find expected '-' indicator"),
    N_("found a tab character that violates indentation"),
    N_("found unknown escape character"),
    N_("did not find expected ',' or ']'"),
    N_("did not find expected ',' or '}'"),
    N_("block sequence entries are not allowed in this context"),
    N_("found unexpected ':'"),
    N_("did not find expected comment or line break"),
    N_("found incompatible YAML document"),
)

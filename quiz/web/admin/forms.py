"""Console forms: they check the shape of the input; quiz.* services enforce the rules."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from quiz import groups
from quiz.accounts import GROUPS
from quiz.contest.definition import MAX_TIME_LIMIT_S
from quiz.i18n import _, _l

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


TYPES = options([("", _l("(any)")), ("single", _l("single choice")), ("multiple", _l("multiple choice")),
                 ("judge", _l("true or false"))])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class BankUploadForm(FlaskForm):
    """Two buttons (name="action"): dry-run keeps the file server-side, import uses it or a new file."""

    file = FileField(_l("Bank file (YAML or Excel .xlsx, at most 5 MB)"))
    pending = HiddenField(validators=[Optional(), Regexp(r"^[0-9a-f]{64}$")])


class QuestionSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Stem contains"), validators=[Optional(), Length(max=100)])
    category = SelectField(_l("Category"), choices=[], validate_choice=False)
    type = SelectField(_l("Question type"), choices=TYPES, validate_choice=False)
    retired = SelectField(_l("Status"), choices=options([("", _l("All")), ("active", _l("in use")), ("retired", _l("retired"))]), validate_choice=False)


class PaperRowForm(Form):
    category = SelectField(_l("Category"), choices=[], validate_choice=False)
    difficulty = SelectField(_l("Difficulty"), choices=options([("", _l("(any)"))] + [(str(i), str(i)) for i in range(1, 4)]), validate_choice=False)
    type = SelectField(_l("Question type"), choices=TYPES, validate_choice=False)
    count = IntegerField(_l("Questions"), validators=[Optional(), NumberRange(min=1, max=200)])


class DistrictRowForm(Form):
    code = StringField(_l("Code"), validators=[Optional(), Regexp(SLUG_PATTERN, message=_l(
        "A code may hold only lowercase letters, digits and hyphens."))])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=40)])
    population = IntegerField(_l("Resident population"), validators=[Optional(), NumberRange(min=1)])


class ContestForm(FlaskForm):
    slug = StringField(_l("Contest code"), validators=[
        DataRequired(), Regexp(SLUG_PATTERN, message=_l("Only lowercase letters, digits and hyphens.")), Length(max=60)])
    title = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    theme = StringField(_l("Theme"), validators=[Optional(), Length(max=200)])
    bank = SelectField(_l("Bank"), choices=[], validators=[DataRequired()])
    practice_bank = SelectField(_l("Practice bank (without one, practice opens after the contest ends)"), choices=[], default="", validators=[Optional()])
    starts_at = DateTimeLocalField(_l("Starts at (Beijing time)"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    ends_at = DateTimeLocalField(_l("Ends at (Beijing time)"), format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    time_limit_s = IntegerField(_l("Time limit (seconds)"), validators=[InputRequired(), NumberRange(min=10, max=MAX_TIME_LIMIT_S)])
    questions_per_attempt = IntegerField(_l("Questions per attempt"), validators=[InputRequired(), NumberRange(min=1, max=200)])
    attempts_per_day = IntegerField(_l("Attempts per day"), validators=[InputRequired(), NumberRange(min=1, max=1000)])
    max_attempts = IntegerField(_l("Attempts in all"), validators=[InputRequired(), NumberRange(min=1, max=10000)])
    points_single = IntegerField(_l("Points per single-choice question"), validators=[InputRequired(), NumberRange(min=0, max=100)])
    points_multiple = IntegerField(_l("Points per multiple-choice question"), validators=[InputRequired(), NumberRange(min=0, max=100)])
    points_judge = IntegerField(_l("Points per true-or-false question"), validators=[InputRequired(), NumberRange(min=0, max=100)])
    paper = FieldList(FormField(PaperRowForm), min_entries=6)
    districts = FieldList(FormField(DistrictRowForm), min_entries=8)
    confirm = BooleanField(_l("I confirm changing the rules of a running contest"))


class ContestUploadForm(FlaskForm):
    file = FileField(_l("Contest definition file (YAML)"))
    confirm = BooleanField(_l("I confirm changing the rules of a running contest"))


class ResultsFilterForm(FlaskForm):
    class Meta:
        csrf = False

    district = SelectField(_l("District"), choices=[], validate_choice=False)
    group = SelectField(_l("Group of people"), choices=options([("", _l("All"))] + [(g, g) for g in GROUPS]), validate_choice=False)
    day = DateField(_l("Day answered"), validators=[Optional()])
    score_min = IntegerField(_l("Lowest score"), validators=[Optional(), NumberRange(min=0)])
    score_max = IntegerField(_l("Highest score"), validators=[Optional(), NumberRange(min=0)])
    # City organizers only (quiz.web.admin.results.check_phone_filter): 4 to 11 digits, any part of the number.
    phone = StringField(_l("Phone (or 4 or more of its digits in a row)"), validators=[
        Optional(), Regexp(r"^\d{4,11}$", message=_l("Enter 4 to 11 digits (all or part of a phone number)."))])

    def set_groups(self, contest) -> None:
        """A contest with groups (quiz/groups.py) is filtered by the attempts' group."""
        if groups.listed(contest):
            self.group.label.text = _("Contest group")
            self.group.choices = options([("", _("All"))] + [(g["code"], g["name"]) for g in groups.listed(contest)])


class ExportForm(FlaskForm):
    kind = SelectField(_l("Content"), choices=options([("results", _l("Attempts with scores")), ("districts", _l("Totals per district")),
                                                     ("standings", _l("Final standings (best score per person)"))]),
                       validators=[DataRequired()])
    fmt = SelectField(_l("Format"), choices=options([("csv", _l("CSV (UTF-8)")), ("xlsx", _l("Excel (XLSX)"))]), validators=[DataRequired()])
    district = SelectField(_l("District"), choices=[], validate_choice=False)


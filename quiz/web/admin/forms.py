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

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]*$"


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label) for value, label in pairs]


TYPES = options([("", "（任意）"), ("single", "单选"), ("multiple", "多选"), ("judge", "判断")])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class BankUploadForm(FlaskForm):
    """Two buttons (name="action"): dry-run keeps the file server-side, import uses it or a new file."""

    file = FileField("题库文件（YAML 或 Excel .xlsx，最大 5 MB）")
    pending = HiddenField(validators=[Optional(), Regexp(r"^[0-9a-f]{64}$")])


class QuestionSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField("题干包含", validators=[Optional(), Length(max=100)])
    category = SelectField("分类", choices=[], validate_choice=False)
    type = SelectField("题型", choices=TYPES, validate_choice=False)
    retired = SelectField("状态", choices=options([("", "全部"), ("active", "在用"), ("retired", "已停用")]), validate_choice=False)


class PaperRowForm(Form):
    category = SelectField("分类", choices=[], validate_choice=False)
    difficulty = SelectField("难度", choices=options([("", "（任意）")] + [(str(i), str(i)) for i in range(1, 4)]), validate_choice=False)
    type = SelectField("题型", choices=TYPES, validate_choice=False)
    count = IntegerField("题数", validators=[Optional(), NumberRange(min=1, max=200)])


class DistrictRowForm(Form):
    code = StringField("代码", validators=[Optional(), Regexp(SLUG_PATTERN, message="代码只能包含小写字母、数字和连字符。")])
    name = StringField("名称", validators=[Optional(), Length(max=40)])
    population = IntegerField("常住人口", validators=[Optional(), NumberRange(min=1)])


class ContestForm(FlaskForm):
    slug = StringField("竞赛代码", validators=[DataRequired(), Regexp(SLUG_PATTERN, message="只能包含小写字母、数字和连字符。"),
                                            Length(max=60)])
    title = StringField("名称", validators=[DataRequired(), Length(max=200)])
    theme = StringField("主题", validators=[Optional(), Length(max=200)])
    bank = SelectField("题库", choices=[], validators=[DataRequired()])
    practice_bank = SelectField("练习题库（不设则竞赛结束后才开放赛后练习）", choices=[], default="", validators=[Optional()])
    starts_at = DateTimeLocalField("开始时间（北京时间）", format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    ends_at = DateTimeLocalField("结束时间（北京时间）", format="%Y-%m-%dT%H:%M", validators=[InputRequired()])
    time_limit_s = IntegerField("答题时限（秒）", validators=[InputRequired(), NumberRange(min=10, max=MAX_TIME_LIMIT_S)])
    questions_per_attempt = IntegerField("每次题数", validators=[InputRequired(), NumberRange(min=1, max=200)])
    attempts_per_day = IntegerField("每天次数", validators=[InputRequired(), NumberRange(min=1, max=1000)])
    max_attempts = IntegerField("总次数", validators=[InputRequired(), NumberRange(min=1, max=10000)])
    points_single = IntegerField("单选题分值", validators=[InputRequired(), NumberRange(min=0, max=100)])
    points_multiple = IntegerField("多选题分值", validators=[InputRequired(), NumberRange(min=0, max=100)])
    points_judge = IntegerField("判断题分值", validators=[InputRequired(), NumberRange(min=0, max=100)])
    paper = FieldList(FormField(PaperRowForm), min_entries=6)
    districts = FieldList(FormField(DistrictRowForm), min_entries=8)
    confirm = BooleanField("我确认修改正在进行中的竞赛规则")


class ContestUploadForm(FlaskForm):
    file = FileField("竞赛定义文件（YAML）")
    confirm = BooleanField("我确认修改正在进行中的竞赛规则")


class ResultsFilterForm(FlaskForm):
    class Meta:
        csrf = False

    district = SelectField("区县", choices=[], validate_choice=False)
    group = SelectField("人群", choices=options([("", "全部")] + [(g, g) for g in GROUPS]), validate_choice=False)
    day = DateField("答题日期", validators=[Optional()])
    score_min = IntegerField("最低分", validators=[Optional(), NumberRange(min=0)])
    score_max = IntegerField("最高分", validators=[Optional(), NumberRange(min=0)])
    # City organizers only (quiz.web.admin.results.check_phone_filter): 4 to 11 digits, any part of the number.
    phone = StringField("手机号（可输入其中连续 4 位以上）",
                        validators=[Optional(), Regexp(r"^\d{4,11}$", message="请输入 4 到 11 位数字（手机号的全部或一部分）。")])

    def set_groups(self, contest) -> None:
        """A contest with groups (quiz/groups.py) is filtered by the attempts' group."""
        if groups.listed(contest):
            self.group.label.text = "组别"
            self.group.choices = options([("", "全部")] + [(g["code"], g["name"]) for g in groups.listed(contest)])


class ExportForm(FlaskForm):
    kind = SelectField("内容", choices=options([("results", "答题成绩明细"), ("districts", "各区县汇总"),
                                                  ("standings", "最终排名（每人最好成绩）")]),
                       validators=[DataRequired()])
    fmt = SelectField("格式", choices=options([("csv", "CSV（UTF-8）"), ("xlsx", "Excel（XLSX）")]), validators=[DataRequired()])
    district = SelectField("区县", choices=[], validate_choice=False)


"""Citizen forms: they check the shape of what was typed; quiz.accounts enforces the rules."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectChoice, SelectField, StringField, TelField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from quiz import groups
from quiz.accounts import GROUPS, MIN_PASSWORD, PHONE_MESSAGE, AccountError, normalize_phone

PHONE_MAX = 20  # room for "+86 139-0000-0001"


def phone_shape(_form, field) -> None:
    """The one phone rule (accounts.normalize_phone), here so that a bad phone is named beside the other fields."""
    try:
        normalize_phone(field.data)
    except AccountError as exc:
        raise ValidationError(exc.message) from None


class RegisterForm(FlaskForm):
    phone = TelField("手机号码", validators=[DataRequired(PHONE_MESSAGE), phone_shape],
                     render_kw={"autocomplete": "tel", "inputmode": "numeric", "maxlength": PHONE_MAX})
    name = StringField("姓名", validators=[DataRequired("请填写姓名。"), Length(max=20, message="姓名最多 20 个字符。")],
                       render_kw={"autocomplete": "name", "maxlength": 20})
    district = SelectField("所在区县", validators=[InputRequired("请选择所在区县。")], validate_choice=True)
    group = SelectField("人群（选填）", choices=[SelectChoice("", "不填写")] + [SelectChoice(g) for g in GROUPS], validators=[Optional()])
    unit = StringField("工作单位或学校（选填）", validators=[Optional(), Length(max=100, message="最多 100 个字符。")],
                       render_kw={"autocomplete": "organization", "maxlength": 100})
    # Used as `unit` when the contest lists units (set_units); the service refuses a code not listed.
    unit_choice = SelectField("工作单位或学校（选填）", name="unit", validate_choice=False, validators=[Optional()])
    township = SelectField("所在镇（街道）", validate_choice=False, validators=[Optional()])
    password = PasswordField("密码", validators=[
        DataRequired("请设置密码。"), Length(min=MIN_PASSWORD, message=f"密码至少 {MIN_PASSWORD} 个字符。")],
        render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD})
    consent = BooleanField("我已阅读并同意上述个人信息说明", validators=[DataRequired("请阅读并勾选同意个人信息说明。")])

    def set_units(self, contest) -> None:
        """Units and townships as selects grouped by district when the contest lists them."""
        names = contest.district_names() if contest else {}
        units, townships = (contest.units or [], contest.townships or {}) if contest else ([], {})
        if units:
            self.unit_choice.choices = [SelectChoice("", "不填写")] + [
                SelectChoice(u["code"], u["name"], optgroup=names.get(u["district"], u["district"])) for u in units]
            self.unit = self._fields["unit"] = self.unit_choice
        self.township.choices = [SelectChoice("", "请选择")] + [
            SelectChoice(t["code"], t["name"], optgroup=names.get(code, code))
            for code, rows in townships.items() for t in rows]

    def set_groups(self, contest) -> None:
        """The contest's groups (quiz.groups) as the choices, one required, when it lists them;
        otherwise the optional 人群 list stays. The service names a missing or unknown group."""
        listed = groups.listed(contest)
        if listed:
            self.group.label.text = "参赛组别"
            self.group.choices = [SelectChoice("", "请选择")] + [SelectChoice(g["code"], g["name"]) for g in listed]
            self.group.validate_choice = False  # quiz.accounts refuses a code not listed, in Chinese

    def set_districts(self, districts: list[dict]) -> None:
        self.district.choices = [SelectChoice("", "请选择")] + [SelectChoice(d["code"], d["name"]) for d in districts]


CODE_RENDER = {"autocomplete": "one-time-code", "inputmode": "numeric", "maxlength": 6, "pattern": "[0-9]*"}


class VerifiedRegisterForm(RegisterForm):
    """Registration with PHONE_VERIFICATION: a code sent to the phone; the password is optional."""
    code = StringField("验证码", validators=[DataRequired("请输入短信验证码。")], render_kw=CODE_RENDER)
    password = PasswordField("密码（选填）", validators=[
        Optional(), Length(min=MIN_PASSWORD, message=f"密码至少 {MIN_PASSWORD} 个字符。")],
        render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD})


class CodeLoginForm(FlaskForm):
    """验证码登录: field names phone and code (shared with the login budgets), ids of their own."""
    phone = TelField("手机号码", id="code-login-phone", validators=[DataRequired(PHONE_MESSAGE), phone_shape],
                     render_kw={"autocomplete": "tel", "inputmode": "numeric", "maxlength": PHONE_MAX})
    code = StringField("验证码", id="code-login-code", validators=[DataRequired("请输入短信验证码。")],
                       render_kw=CODE_RENDER)
    remember = BooleanField("在这台设备上记住我", id="code-login-remember")


class ResetForm(FlaskForm):
    phone = TelField("手机号码", validators=[DataRequired(PHONE_MESSAGE), phone_shape],
                     render_kw={"autocomplete": "tel", "inputmode": "numeric", "maxlength": PHONE_MAX})
    code = StringField("验证码", validators=[DataRequired("请输入短信验证码。")], render_kw=CODE_RENDER)
    password = PasswordField("新密码", validators=[
        DataRequired("请设置新密码。"), Length(min=MIN_PASSWORD, message=f"密码至少 {MIN_PASSWORD} 个字符。")],
        render_kw={"autocomplete": "new-password", "minlength": MIN_PASSWORD})


class LoginForm(FlaskForm):
    phone = TelField("手机号码", validators=[DataRequired(PHONE_MESSAGE)],
                     render_kw={"autocomplete": "username", "inputmode": "numeric", "maxlength": PHONE_MAX})
    password = PasswordField("密码", validators=[DataRequired("请输入密码。")], render_kw={"autocomplete": "current-password"})
    remember = BooleanField("在这台设备上记住我")


class ActionForm(FlaskForm):
    """A form with only the CSRF token: start, hand in, log out."""

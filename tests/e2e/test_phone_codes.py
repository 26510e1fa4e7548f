"""Phone codes in the browser: the 获取验证码 countdown button (with JavaScript), and the
two-step form without it, on a server with PHONE_VERIFICATION=1 and the console sender
showing the code (SMS_SHOW_CODE=1, as scripts/serve.sh runs it)."""
import re

import pytest

from tests.e2e.conftest import SAMPLE_CONTEST, Server
from tests.e2e.steps import expect, new_phone, press


@pytest.fixture(scope="module")
def verified_server(tmp_path_factory, prepared_instance, server_pool):
    import shutil

    instance = tmp_path_factory.mktemp("e2e-phone-codes")
    shutil.copytree(prepared_instance, instance, dirs_exist_ok=True)
    srv = Server(instance, SAMPLE_CONTEST)
    srv.env.update(PHONE_VERIFICATION="1", SMS_PROVIDER="console", SMS_SHOW_CODE="1")
    server_pool.append(srv)
    srv.start()
    yield srv
    srv.terminate()


def test_register_by_code_with_the_countdown_button_and_in_two_steps_without_javascript(verified_server,
                                                                                            contexts):
    base, phone = verified_server.base_url, new_phone()
    page = contexts().new_page()
    page.goto(base + "/register")
    form = page.locator("#register-form")
    form.locator("[name=phone]").fill(phone)
    button = form.locator(".code-button")
    press(button, True)
    expect(page.locator("#shown-code")).to_have_text(re.compile(r"^[0-9]{6}$"))
    expect(button).to_be_disabled()
    expect(button).to_have_text(re.compile(r"秒后重新获取"))
    assert page.url.endswith("/register")  # no reload: the request went to /code
    form.locator("[name=code]").fill(page.locator("#shown-code").inner_text())
    form.locator("[name=name]").fill("赵六")
    form.locator("[name=district]").select_option("wujin")
    press(form.locator("label[for=consent]"), True)
    press(page.locator("#register-submit"), True)
    expect(page.locator("#nav-me")).to_be_visible()
    press(page.locator("#logout"), True)
    expect(page.locator("#nav-login")).to_be_visible()

    # A second code within the minute: the button says how long to wait and counts down.
    page.goto(base + "/login")
    login_form = page.locator("#code-login-form")
    login_form.locator("[name=phone]").fill(phone)
    press(login_form.locator(".code-button"), True)
    expect(login_form.locator("#code-sent")).to_contain_text("秒后再重新获取")
    expect(login_form.locator(".code-button")).to_be_disabled()

    # Without JavaScript: two steps, the form comes back with the code sent and the fields kept.
    other = new_phone()
    plain = contexts(java_script_enabled=False).new_page()
    plain.goto(base + "/register")
    form = plain.locator("#register-form")
    form.locator("[name=phone]").fill(other)
    form.locator("[name=name]").fill("钱七")
    form.locator(".code-button").click()
    expect(plain.locator("#code-sent")).to_contain_text("验证码已发送")
    form = plain.locator("#register-form")
    expect(form.locator("[name=phone]")).to_have_value(other)
    expect(form.locator("[name=name]")).to_have_value("钱七")
    shown = plain.locator("#shown-code").inner_text()
    assert re.fullmatch(r"[0-9]{6}", shown)
    form.locator("[name=code]").fill(shown)
    form.locator("[name=district]").select_option("wujin")
    form.locator("[name=consent]").check()
    plain.locator("#register-submit").click()
    expect(plain.locator("#nav-me")).to_be_visible()

/* 获取验证码, enhanced: ask for the code without reloading the page, then count down
   until another may be asked for. Plain ES5 for old in-app browsers. Without this file
   the button submits its form (name=action value=send-code) and the page comes back. */
(function () {
  'use strict';

  var buttons = document.querySelectorAll ? document.querySelectorAll('.code-button') : [];

  function countdown(button, seconds) {
    var label = '获取验证码';
    button.disabled = true;
    function tick() {
      if (seconds <= 0) {
        button.disabled = false;
        button.textContent = label;
        return;
      }
      button.textContent = seconds + ' 秒后重新获取';
      seconds -= 1;
      window.setTimeout(tick, 1000);
    }
    tick();
  }

  function say(status, text, code) {
    if (!status) { return; }
    status.textContent = text;
    if (code) {
      var strong = document.createElement('strong');
      strong.id = 'shown-code';
      strong.textContent = code;
      status.appendChild(document.createTextNode('（演示模式，验证码：'));
      status.appendChild(strong);
      status.appendChild(document.createTextNode('）'));
    }
    status.hidden = false;
  }

  function fallback(form) {
    // No answer we understand: do what the button does without JavaScript.
    var hidden = document.createElement('input');
    hidden.type = 'hidden';
    hidden.name = 'action';
    hidden.value = 'send-code';
    form.appendChild(hidden);
    form.submit();
  }

  function ask(button) {
    var form = button.form;
    var phone = form.querySelector('input[name="phone"]');
    var token = form.querySelector('input[name="csrf_token"]');
    var status = form.querySelector('.code-sent');
    if (!phone || !phone.value.replace(/\s/g, '')) {
      say(status, '请先填写手机号码。');
      if (phone) { phone.focus(); }
      return;
    }
    var body = 'purpose=' + encodeURIComponent(button.getAttribute('data-purpose')) +
      '&phone=' + encodeURIComponent(phone.value) +
      '&csrf_token=' + encodeURIComponent(token ? token.value : '');
    var xhr = new XMLHttpRequest();
    xhr.open('POST', button.getAttribute('data-code-url'), true);
    xhr.setRequestHeader('Content-Type', 'application/x-www-form-urlencoded');
    xhr.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
    xhr.setRequestHeader('Accept', 'application/json');
    button.disabled = true;
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status === 202 && data) {
        say(status, data.message, data.shown_code);
        countdown(button, data.retry_after_s || 60);
        var code = form.querySelector('input[name="code"]');
        if (code) { code.focus(); }
      } else if (data && data.error) {
        say(status, data.error.message);
        var wait = parseInt(xhr.getResponseHeader('Retry-After') || '0', 10);
        if (xhr.status === 429 && wait > 0) { countdown(button, wait); } else { button.disabled = false; }
      } else {
        button.disabled = false;
        fallback(form);
      }
    };
    xhr.send(body);
  }

  for (var i = 0; i < buttons.length; i++) {
    (function (button) {
      var wait = parseInt(button.getAttribute('data-retry-after') || '0', 10);
      if (wait > 0) { countdown(button, wait); }
      button.addEventListener('click', function (event) {
        if (!window.XMLHttpRequest || !window.JSON) { return; }
        event.preventDefault();
        ask(button);
      });
    })(buttons[i]);
  }
}());

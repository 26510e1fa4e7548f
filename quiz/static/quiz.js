/* The quiz page, enhanced: autosave each answer as it is chosen and tick the
   countdown from the server's seconds-left; hand in when it reaches zero.
   Plain ES5 for old in-app browsers. Without this file the form still works. */
(function () {
  'use strict';

  var form = document.getElementById('quiz-form');
  if (!form || !window.JSON) { return; }

  var saveUrl = form.getAttribute('data-save-url');
  var tokenInput = form.querySelector('input[name="csrf_token"]');
  var token = tokenInput ? tokenInput.value : '';
  var statusLine = document.getElementById('save-status');
  var answeredCount = document.getElementById('answered-count');
  var autoField = document.getElementById('auto-field');
  var handingIn = false;
  var pending = {};   // qid -> true while a save is on its way
  var again = {};     // qid -> true when the answer changed during that save

  function closest(node, className) {
    while (node && node !== form) {
      if (node.className && (' ' + node.className + ' ').indexOf(' ' + className + ' ') !== -1) { return node; }
      node = node.parentNode;
    }
    return null;
  }

  function checkedValues(fieldset) {
    var inputs = fieldset.getElementsByTagName('input');
    var values = [];
    for (var i = 0; i < inputs.length; i++) {
      if (inputs[i].checked) { values.push(inputs[i].value); }
    }
    return values;
  }

  function questions() {
    var all = form.getElementsByTagName('fieldset');
    var list = [];
    for (var i = 0; i < all.length; i++) {
      if (closest(all[i], 'question') === all[i]) { list.push(all[i]); }
    }
    return list;
  }

  function countAnswered() {
    var list = questions();
    var n = 0;
    for (var i = 0; i < list.length; i++) {
      if (checkedValues(list[i]).length) { n++; }
    }
    if (answeredCount) { answeredCount.textContent = String(n); }
    return list.length - n;
  }

  function stateOf(fieldset) {
    var nodes = fieldset.getElementsByTagName('p');
    for (var i = 0; i < nodes.length; i++) {
      if ((' ' + nodes[i].className + ' ').indexOf(' save-state ') !== -1) { return nodes[i]; }
    }
    return null;
  }

  function show(fieldset, text, failed) {
    var node = stateOf(fieldset);
    if (node) {
      node.textContent = text;
      node.className = failed ? 'save-state failed' : 'save-state';
    }
    if (statusLine) {
      statusLine.textContent = failed ? '有答案未保存' : '';
      statusLine.className = failed ? 'save-status failed' : 'save-status';
    }
  }

  // POST JSON with the CSRF token in a header; fetch where it exists, else XMLHttpRequest.
  function post(body, done) {
    var payload = JSON.stringify(body);
    if (window.fetch) {
      window.fetch(saveUrl, {
        method: 'POST', credentials: 'same-origin', body: payload,
        headers: {'Content-Type': 'application/json', 'X-CSRFToken': token, 'Accept': 'application/json'}
      }).then(function (response) {
        return response.json().then(function (data) { done(response.status, data); },
                                     function () { done(response.status, null); });
      }, function () { done(0, null); });
      return;
    }
    var xhr = new XMLHttpRequest();
    xhr.open('POST', saveUrl, true);
    xhr.setRequestHeader('Content-Type', 'application/json');
    xhr.setRequestHeader('X-CSRFToken', token);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4) { return; }
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      done(xhr.status, data);
    };
    xhr.send(payload);
  }

  function save(fieldset) {
    var qid = fieldset.getAttribute('data-qid');
    if (pending[qid]) { again[qid] = true; return; }
    pending[qid] = true;
    show(fieldset, '正在保存…', false);
    post({qid: qid, choices: checkedValues(fieldset)}, function (status, data) {
      pending[qid] = false;
      if (status === 200 && data && data.saved) {
        show(fieldset, '已保存', false);
      } else if (data && data.error && data.error.code === 'deadline_passed') {
        show(fieldset, data.error.message, true);
        handIn(true);
        return;
      } else if (data && data.error) {
        show(fieldset, '未保存：' + data.error.message, true);
      } else {
        show(fieldset, '未保存：网络不稳定，请稍后点“保存答案”。', true);
      }
      if (again[qid]) { again[qid] = false; save(fieldset); }
    });
  }

  function onChange(event) {
    var target = event.target || event.srcElement;
    var fieldset = closest(target, 'question');
    if (!fieldset || handingIn) { return; }
    countAnswered();
    save(fieldset);
  }

  // The whole form goes to the server, which saves every answer and then hands in. With a
  // clock per question (data-timeout-action="next") time up moves on to the next question.
  function handIn(auto) {
    if (handingIn) { return; }
    handingIn = true;
    if (autoField && auto) { autoField.value = '1'; }
    var hidden = document.createElement('input');
    hidden.type = 'hidden';
    hidden.name = 'action';
    hidden.value = (auto && form.getAttribute('data-timeout-action')) || 'submit';
    form.appendChild(hidden);
    form.submit();
  }

  var submitButton = document.getElementById('submit-quiz');
  var saveButton = document.getElementById('save-answers');
  var handInClicked = false;  // iOS does not focus a tapped button, so remember which one it was

  if (form.addEventListener) {
    form.addEventListener('change', onChange, false);
    if (submitButton) { submitButton.addEventListener('click', function () { handInClicked = true; }, false); }
    if (saveButton) { saveButton.addEventListener('click', function () { handInClicked = false; }, false); }
    // 交卷 always asks (one tap could spend the day's only attempt); without this file the
    // button (action=confirm) leads to the server's confirmation page instead.
    form.addEventListener('submit', function (event) {
      if (handingIn || !handInClicked) { return; }
      handInClicked = false;
      event.preventDefault();
      var unanswered = countAnswered();
      var ask = '交卷后本次答题结束，不能再修改答案。确定交卷吗？';
      if (!form.getAttribute('data-timeout-action')) {  // the whole paper is on the page
        ask = (unanswered > 0 ? '还有 ' + unanswered + ' 题未作答。' : '全部 ' + questions().length + ' 题都已作答。') + ask;
      }
      if (window.confirm(ask)) { handIn(false); }
    }, false);
  }

  var countdown = document.getElementById('countdown');
  if (countdown) {
    var secondsLeft = parseInt(countdown.getAttribute('data-seconds-left'), 10);
    if (!isNaN(secondsLeft)) {
      // Count from the server's seconds-left, not the phone's clock, which may be wrong.
      var endsAt = new Date().getTime() + secondsLeft * 1000;
      var two = function (n) { return n < 10 ? '0' + n : String(n); };
      var tick = function () {
        var left = Math.max(0, Math.round((endsAt - new Date().getTime()) / 1000));
        countdown.textContent = two(Math.floor(left / 60)) + ':' + two(left % 60);
        if (left <= 60) { countdown.className = 'urgent'; }
        if (left === 0) {
          window.clearInterval(timer);
          handIn(true);
        }
      };
      var timer = window.setInterval(tick, 1000);
      tick();
    }
  }
}());

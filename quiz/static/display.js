/* Keeps a big-screen leaderboard live without reloading (plain ES5, no dependencies).
   Server-Sent Events from data-events-url push a snapshot after each burst of results;
   when EventSource is missing or fails, data-data-url is polled every 5 seconds. A worker
   that already holds its share of streams answers 503 (Retry-After): the browser closes
   the stream, and the page polls and tries a stream again a minute or so later. */
(function () {
  'use strict';

  var POLL_MS = 5000;
  var REOPEN_MS = 60000;  // the server's Retry-After for a full worker
  var REOPEN_JITTER_MS = 30000;  // spread the screens' retries instead of all at once
  var root = document.getElementById('display');
  if (!root) { return; }
  var dataUrl = root.getAttribute('data-data-url');
  var eventsUrl = root.getAttribute('data-events-url');
  var pollTimer = null;

  function text(id, value) {
    var el = document.getElementById(id);
    if (el) { el.textContent = value === null || value === undefined ? '\u2014' : String(value); }
  }

  function cell(row, value, numeric) {
    var td = document.createElement('td');
    if (numeric) { td.className = 'num'; }
    td.textContent = String(value);
    row.appendChild(td);
  }

  function replaceRows(tbody, rows) {
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    for (var i = 0; i < rows.length; i++) { tbody.appendChild(rows[i]); }
  }

  function render(snap) {
    var i, tr;
    var topRows = [];
    for (i = 0; i < snap.top.length; i++) {
      var entry = snap.top[i];
      tr = document.createElement('tr');
      tr.className = entry.rank <= 3 ? 'entry podium' : 'entry';
      cell(tr, entry.rank, true);
      cell(tr, entry.name, false);
      cell(tr, entry.district_name, false);
      cell(tr, entry.score, true);
      cell(tr, entry.time_used, true);
      topRows.push(tr);
    }
    replaceRows(document.getElementById('top-table'), topRows);

    var districtRows = [];
    for (i = 0; i < snap.districts.length; i++) {
      var d = snap.districts[i];
      tr = document.createElement('tr');
      tr.className = d.current ? 'district current' : 'district';
      cell(tr, d.name, false);
      cell(tr, d.participants, true);
      cell(tr, d.attempts, true);
      cell(tr, d.average_score_text, true);  // figures.average_text: "—" without participants
      cell(tr, d.participation_per_10k.toFixed(2), true);
      districtRows.push(tr);
    }
    replaceRows(document.getElementById('district-table'), districtRows);

    text('participants', snap.participants);
    text('attempts', snap.attempts);
    text('updated-at', snap.updated_at);
    var notice = document.getElementById('board-notice');
    notice.textContent = snap.notice || '';
    if (snap.notice) { notice.removeAttribute('hidden'); } else { notice.setAttribute('hidden', ''); }
    var frozen = document.getElementById('frozen-notice');
    if (frozen) {
      frozen.textContent = snap.frozen_notice || '';
      if (snap.frozen) { frozen.removeAttribute('hidden'); } else { frozen.setAttribute('hidden', ''); }
    }
    var empty = document.getElementById('top-empty');
    if (empty) {
      if (snap.available && snap.top.length === 0) { empty.removeAttribute('hidden'); } else { empty.setAttribute('hidden', ''); }
    }
  }

  function poll() {
    var xhr = new XMLHttpRequest();
    xhr.open('GET', dataUrl, true);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.onreadystatechange = function () {
      if (xhr.readyState !== 4 || xhr.status !== 200) { return; }
      try { render(JSON.parse(xhr.responseText)); } catch (e) { /* keep the last good board */ }
    };
    xhr.send();
  }

  function startPolling() {
    if (pollTimer === null) {
      poll();
      pollTimer = window.setInterval(poll, POLL_MS);
    }
  }

  function stopPolling() {
    if (pollTimer !== null) {
      window.clearInterval(pollTimer);
      pollTimer = null;
    }
  }

  function connect() {
    if (!window.EventSource) {
      startPolling();
      return;
    }
    var source = new window.EventSource(eventsUrl);
    source.addEventListener('snapshot', function (event) {
      stopPolling();
      try { render(JSON.parse(event.data)); } catch (e) { /* keep the last good board */ }
    }, false);
    source.onerror = function () {
      // The server ends each stream after a few minutes and EventSource reconnects by itself;
      // poll meanwhile, and reopen a stream the browser gave up on (a 503: streams full).
      startPolling();
      if (source.readyState === 2) {
        source.close();
        window.setTimeout(connect, REOPEN_MS + Math.floor(Math.random() * REOPEN_JITTER_MS));
      }
    };
  }

  connect();
}());

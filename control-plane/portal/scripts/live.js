// arcsim portal: the live feed (server-sent events from /portal/live). New alerts are announced
// in #live-updates; status changes update every element marked data-live-status="subject:id:product",
// an incident's triage changes those marked "incident:id:M365D:field" (data-live-kind="text": plain text).
(function () {
  'use strict';
  if (!window.EventSource) return;
  var TONES = { Active: 'bad', InProgress: 'warn', Resolved: 'ok', Dismissed: 'muted' };
  function badge(status) {
    var s = document.createElement('span');
    s.className = 'badge tone-' + (TONES[status] || 'muted') + ' status';
    s.textContent = status;
    return s;
  }
  function onStatus(c) {
    var key = c.subject + ':' + c.subjectId + ':' + c.product + (c.field ? ':' + c.field : '');
    document.querySelectorAll('[data-live-status]').forEach(function (el) {
      if (el.getAttribute('data-live-status') !== key) return;
      if (el.getAttribute('data-live-kind') === 'text') {
        el.textContent = c.text || c.status || el.getAttribute('data-live-empty') || '';
      } else {
        el.replaceChildren(badge(c.status));
      }
      el.setAttribute('data-live-updated', String(c.at));
    });
  }
  function onAlert(c) {
    var region = document.getElementById('live-updates');
    if (!region) return;
    var li = document.createElement('li');
    var a = document.createElement('a');
    a.href = '/portal/alerts/' + encodeURIComponent(c.subjectId);
    a.textContent = (c.title || c.subjectId) + ' (' + (c.severity || '') + (c.machine ? ', ' + c.machine : '') + ')';
    li.appendChild(a);
    region.querySelector('ul').prepend(li);
    region.hidden = false;
  }
  var es = new EventSource('/portal/live');
  es.addEventListener('status', function (e) { onStatus(JSON.parse(e.data)); });
  es.addEventListener('alert', function (e) { onAlert(JSON.parse(e.data)); });
  es.addEventListener('ready', function () { document.documentElement.setAttribute('data-live', 'ready'); });
})();

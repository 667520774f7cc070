// arcsim portal: the hunting editor. The textarea stays the editor (keyboard, screen readers,
// forms); a <pre> behind it shows the same text highlighted by Kusto.Language's classification
// (/portal/hunting/classify), errors are underlined, and Ctrl+Space (or typing a name) lists
// completions (/portal/hunting/complete). Without this script the page is a plain form.
(function () {
  'use strict';
  var ta = document.getElementById('query');
  var pre = document.getElementById('query-highlight');
  var list = document.getElementById('completions');
  if (!ta || !pre || !list) return;
  document.querySelector('.editor').classList.add('enhanced');
  var items = [], active = -1, edit = null, timer = null, seq = 0;

  function post(path, body) {
    return fetch(path, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) { return r.ok ? r.json() : null; });
  }
  function paint(text, ranges, errors) {
    pre.replaceChildren();
    var at = 0;
    function plain(to) { if (to > at) pre.appendChild(document.createTextNode(text.slice(at, to))); at = Math.max(at, to); }
    ranges.forEach(function (r) {
      if (r.start < at) return;
      plain(r.start);
      var s = document.createElement('span');
      s.className = 'k-' + r.kind;
      if (errors.some(function (e) { return e.start < r.start + r.length && r.start < e.start + Math.max(1, e.length); })) s.className += ' k-error';
      s.textContent = text.slice(r.start, r.start + r.length);
      pre.appendChild(s);
      at = r.start + r.length;
    });
    plain(text.length);
    pre.appendChild(document.createTextNode('\n'));
    ta.setAttribute('aria-invalid', errors.length ? 'true' : 'false');
    ta.title = errors.map(function (e) { return e.line + ':' + e.column + ' ' + e.message; }).join('\n');
  }
  function highlight() {
    var text = ta.value, mine = ++seq;
    // The text shows at once (the textarea's own glyphs are transparent); colours follow the reply.
    if (pre.textContent !== text + '\n') paint(text, [], []);
    post('/portal/hunting/classify', { text: text }).then(function (r) { if (r && mine === seq) paint(text, r.ranges, r.errors); });
  }
  function close() { ta.setAttribute('aria-expanded', 'false'); list.hidden = true; list.replaceChildren(); items = []; active = -1; ta.removeAttribute('aria-activedescendant'); }
  function choose(i) {
    var it = items[i];
    if (!it || !edit) return;
    ta.setRangeText(it.insert, edit.from, edit.from + edit.length, 'end');
    close();
    ta.dispatchEvent(new Event('input'));
  }
  function show(r) {
    edit = { from: r.from, length: r.length };
    items = r.items.slice(0, 30);
    list.replaceChildren();
    if (!items.length) return close();
    items.forEach(function (it, i) {
      var li = document.createElement('li');
      li.id = 'completion-' + i; li.setAttribute('role', 'option'); li.className = 'c-' + it.kind;
      li.textContent = it.label; li.title = it.kind;
      li.addEventListener('mousedown', function (e) { e.preventDefault(); choose(i); });
      list.appendChild(li);
    });
    list.hidden = false; ta.setAttribute('aria-expanded', 'true'); move(0);
  }
  function move(i) {
    active = (i + items.length) % items.length;
    Array.prototype.forEach.call(list.children, function (li, j) { li.setAttribute('aria-selected', j === active ? 'true' : 'false'); });
    ta.setAttribute('aria-activedescendant', 'completion-' + active);
  }
  function complete() {
    post('/portal/hunting/complete', { text: ta.value, position: ta.selectionStart }).then(function (r) { if (r) show(r); });
  }
  ta.setAttribute('role', 'combobox'); ta.setAttribute('aria-expanded', 'false'); ta.setAttribute('aria-autocomplete', 'list'); ta.setAttribute('aria-controls', 'completions');
  ta.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      highlight();
      var before = ta.value.slice(0, ta.selectionStart);
      if (/[A-Za-z_]{2,}$/.test(before)) complete(); else close();
    }, 200);
    var save = document.getElementById('save-query');
    if (save) save.value = ta.value;
  });
  ta.addEventListener('scroll', function () { pre.scrollTop = ta.scrollTop; pre.scrollLeft = ta.scrollLeft; });
  ta.addEventListener('keydown', function (e) {
    if (e.key === ' ' && e.ctrlKey) { e.preventDefault(); complete(); return; }
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); document.getElementById('hunting-form').requestSubmit(); return; }
    if (list.hidden) return;
    if (e.key === 'ArrowDown') { e.preventDefault(); move(active + 1); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); move(active - 1); }
    else if (e.key === 'Enter' || e.key === 'Tab') { e.preventDefault(); choose(active); }
    else if (e.key === 'Escape') { e.preventDefault(); close(); }
  });
  ta.addEventListener('blur', function () { setTimeout(close, 150); });
  // An error's "line, column" link puts the caret there.
  document.querySelectorAll('#query-errors a[data-line]').forEach(function (a) {
    a.addEventListener('click', function (e) {
      e.preventDefault();
      var lines = ta.value.split('\n'), line = Number(a.dataset.line), col = Number(a.dataset.column), pos = 0;
      for (var i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
      ta.focus(); ta.setSelectionRange(pos + col - 1, pos + col - 1);
    });
  });
  highlight();
})();

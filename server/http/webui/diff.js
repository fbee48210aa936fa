/* nacos-c console: a line diff (longest common subsequence of lines) and
 * its rendering, for the Configs page's review before publish and its
 * history. NC.diff(oldText, newText) gives [{op: ' '|'-'|'+', a, b, text}]
 * (a / b: 1-based line numbers in old / new, 0 where absent);
 * NC.diffView(ops) a table with a summary line. Texts above DIFF_CELLS
 * (lines x lines) are compared without the LCS: common head and tail,
 * the middle as removed + added, so a huge config cannot freeze the tab. */
(function () {
  'use strict';
  var DIFF_CELLS = 4e6;

  function lines(t) {
    if (!t) return [];
    var l = String(t).split('\n');
    if (l[l.length - 1] === '') l.pop(); /* a final newline is no extra line */
    return l;
  }

  function diff(oldText, newText) {
    var a = lines(oldText), b = lines(newText), out = [];
    var pre = 0, suf = 0;
    while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
    while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
    var i, j;
    for (i = 0; i < pre; i++) out.push({op: ' ', a: i + 1, b: i + 1, text: a[i]});
    var am = a.slice(pre, a.length - suf), bm = b.slice(pre, b.length - suf), n = am.length, m = bm.length;
    if (n * m > DIFF_CELLS) {
      for (i = 0; i < n; i++) out.push({op: '-', a: pre + i + 1, b: 0, text: am[i]});
      for (j = 0; j < m; j++) out.push({op: '+', a: 0, b: pre + j + 1, text: bm[j]});
    } else {
      /* L[i][j]: LCS length of am[i..] and bm[j..], one flat array */
      var L = new Uint32Array((n + 1) * (m + 1)), w = m + 1;
      for (i = n - 1; i >= 0; i--)
        for (j = m - 1; j >= 0; j--)
          L[i * w + j] = am[i] === bm[j] ? L[(i + 1) * w + j + 1] + 1 : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
      i = 0; j = 0;
      while (i < n || j < m) {
        if (i < n && j < m && am[i] === bm[j]) { out.push({op: ' ', a: pre + i + 1, b: pre + j + 1, text: am[i]}); i++; j++; }
        else if (i < n && (j === m || L[(i + 1) * w + j] >= L[i * w + j + 1])) { out.push({op: '-', a: pre + i + 1, b: 0, text: am[i]}); i++; }
        else { out.push({op: '+', a: 0, b: pre + j + 1, text: bm[j]}); j++; }
      }
    }
    for (i = suf; i > 0; i--) out.push({op: ' ', a: a.length - i + 1, b: b.length - i + 1, text: a[a.length - i]});
    return out;
  }

  /* The ops as a table; unchanged runs longer than 7 lines are folded to
   * 3 lines of context on each side. */
  function diffView(ops, oldLabel, newLabel) {
    var el = NC.el, add = 0, del = 0;
    ops.forEach(function (o) { if (o.op === '+') add++; else if (o.op === '-') del++; });
    var body = el('tbody');
    var k = 0;
    while (k < ops.length) {
      if (ops[k].op === ' ') {
        var e = k;
        while (e < ops.length && ops[e].op === ' ') e++;
        var keepHead = k === 0 ? 0 : 3, keepTail = e === ops.length ? 0 : 3;
        if (e - k > keepHead + keepTail + 1) {
          for (var h = k; h < k + keepHead; h++) body.appendChild(row(ops[h]));
          body.appendChild(el('tr', {class: 'fold'}, [el('td', {colspan: '4', text: '⋯ ' + (e - k - keepHead - keepTail) + ' unchanged line(s)'})]));
          for (var t = e - keepTail; t < e; t++) body.appendChild(row(ops[t]));
          k = e;
          continue;
        }
      }
      body.appendChild(row(ops[k]));
      k++;
    }
    function row(o) {
      return el('tr', {class: o.op === '+' ? 'add' : o.op === '-' ? 'del' : ''}, [
        el('td', {class: 'ln', text: o.a ? String(o.a) : ''}), el('td', {class: 'ln', text: o.b ? String(o.b) : ''}),
        el('td', {class: 'op', text: o.op}), el('td', {class: 'tx', text: o.text})]);
    }
    var summary = add || del ? '+' + add + ' / −' + del + ' line(s)' : 'No change';
    return el('div', {class: 'diff-box'}, [
      el('div', {class: 'diff-head'}, [el('span', {class: 'diff-sum', text: summary}),
        el('span', {class: 'muted', text: (oldLabel || 'old') + ' → ' + (newLabel || 'new')})]),
      el('div', {class: 'diff-scroll'}, [el('table', {class: 'diff-table mono'}, [body])])]);
  }

  NC.diff = diff;
  NC.diffView = diffView;
})();

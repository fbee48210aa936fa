/* nacos-c console, the Configs page, over Nacos's v1 config API:
 *   list    GET /nacos/v1/cs/configs?search=blur (dataId, group, and the
 *           content with config_detail), one namespace (tenant) at a time;
 *   edit    GET the content, POST /nacos/v1/cs/configs (content type from
 *           a selector), after a line diff of old vs new (diff.js) that
 *           the user reviews before the publish goes out;
 *   history GET /nacos/v1/cs/history?search=accurate, a version's content
 *           (?nid=) diffed with the current one, and a rollback: POST
 *           /nacos/v1/cs/history/rollback (nacos-c), or where that is not
 *           served, the old content published again as Nacos's console does;
 *   listeners GET /nacos/v1/cs/configs/listener (who watches it, their md5). */
(function () {
  'use strict';
  var el = NC.el, C = '/nacos/v1/cs/configs', H = '/nacos/v1/cs/history';
  var TYPES = ['text', 'json', 'yaml', 'properties', 'xml', 'html'], PAGE = 50;
  var st = null;

  function key(c, extra) {
    var p = {dataId: c.dataId, group: c.group, tenant: NC.ns()};
    for (var k in extra || {}) p[k] = extra[k];
    return p;
  }

  function mount(root) {
    st = {root: root, cfg: null, q: {}};
    showList();
  }
  function unmount() { st = null; }

  /* ---- the list ---- */

  function showList() {
    var root = st.root, q = st.q;
    st.cfg = null;
    root.textContent = '';
    var d = el('input', {id: 'cfg-q-data', placeholder: 'Data ID contains…', value: q.dataId || ''});
    var g = el('input', {id: 'cfg-q-group', placeholder: 'Group contains…', value: q.group || ''});
    var c = el('input', {id: 'cfg-q-content', placeholder: 'Content contains…', value: q.content || ''});
    root.appendChild(NC.head('Configs', 'The namespace\u2019s configurations; search, edit with a review of the change, roll back.', [
      NC.nsSelect(function () { st.pageNo = 1; loadList(); }), NC.btn('Create config', {id: 'cfg-create', class: 'primary'}),
      NC.btn('Refresh', {id: 'cfg-refresh'})]));
    var form = el('form', {class: 'card search', id: 'cfg-search'}, [d, g, c,
      el('button', {type: 'submit', class: 'btn primary', id: 'cfg-search-go', text: 'Search'})]);
    root.appendChild(form);
    st.t = NC.table('cfg-rows', [{t: 'Data ID'}, {t: 'Group'}, {t: 'Type', c: 'opt'}, {t: 'App', c: 'opt'}, {t: 'Actions', c: 'num'}]);
    root.appendChild(st.t.wrap);
    root.appendChild(el('p', {class: 'muted', id: 'cfg-foot'}));
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      st.q = {dataId: d.value.trim(), group: g.value.trim(), content: c.value};
      st.pageNo = 1;
      loadList();
    });
    root.querySelector('#cfg-create').addEventListener('click', function () { editor(null, ''); });
    root.querySelector('#cfg-refresh').addEventListener('click', loadList);
    st.t.body.addEventListener('click', onRowAction);
    loadList();
  }

  function wild(s) { return s ? '*' + s + '*' : ''; }

  function loadList() {
    var my = st;
    NC.tableMsg(st.t, 'Loading the configs…', 'loading');
    NC.api('GET', C, {search: 'blur', dataId: wild(st.q.dataId), group: wild(st.q.group), config_detail: st.q.content,
                      tenant: NC.ns(), pageNo: st.pageNo || 1, pageSize: PAGE})
      .then(function (j) {
        if (st !== my || st.cfg) return;
        st.items = (j && j.pageItems) || [];
        st.t.body.textContent = '';
        if (!st.items.length) NC.tableMsg(st.t, 'No configs in namespace ' + (NC.ns() || 'public') + (st.q.dataId || st.q.group || st.q.content ? ' match the search.' : ' yet.'));
        st.items.forEach(function (c, i) {
          st.t.body.appendChild(el('tr', {'data-i': String(i), 'data-key': c.group + '/' + c.dataId}, [
            el('td', {}, [el('b', {class: 'mono', text: c.dataId})]), el('td', {text: c.group}),
            el('td', {class: 'opt'}, [el('span', {class: 'badge', text: c.type || 'text'})]), el('td', {class: 'opt', text: c.appName || ''}),
            el('td', {class: 'actions'}, [NC.btn('Details', {class: 'small', 'data-action': 'detail'}),
              NC.btn('Edit', {class: 'small', 'data-action': 'edit'}),
              NC.btn('Delete', {class: 'small danger', 'data-action': 'delete'})])]));
        });
        if (!st.items.length && j.totalCount && st.pageNo > 1) { st.pageNo = 1; loadList(); return; }
        NC.pager(st.root.querySelector('#cfg-foot'), 'config(s)', j.totalCount || 0, st.pageNo || 1, PAGE,
                 function (n) { st.pageNo = n; loadList(); });
      }, function (e) { if (st === my && !st.cfg && !e.auth) NC.tableMsg(st.t, 'Could not search the configs: ' + e.message, 'error'); });
  }

  function onRowAction(ev) {
    var b = ev.target.closest('button[data-action]');
    if (!b) return;
    var c = st.items[Number(b.closest('tr').getAttribute('data-i'))], a = b.getAttribute('data-action');
    if (a === 'detail') showDetail(c);
    else if (a === 'edit') read(c).then(function (text) { editor(c, text); }, oops('read'));
    else remove(c);
  }

  function oops(what) {
    return function (e) { if (!e.auth) NC.toast('Could not ' + what + ' the config: ' + e.message, 'error'); };
  }

  /* The current content (text; "" when the config is gone). */
  function read(c) {
    return NC.api('GET', C, key(c), {raw: true}).then(function (t) { return t; },
      function (e) { if (e.status === 404) return ''; throw e; });
  }

  /* ---- create / edit, with the review ---- */

  function editor(c, old) {
    var d = el('input', {id: 'cfg-data-id', value: c ? c.dataId : ''});
    var g = el('input', {id: 'cfg-group', value: c ? c.group : 'DEFAULT_GROUP'});
    if (c) { d.disabled = true; g.disabled = true; }
    var type = el('select', {id: 'cfg-type'}, TYPES.map(function (t) { return el('option', {value: t, text: t}); }));
    type.value = c && TYPES.indexOf(c.type) >= 0 ? c.type : 'text';
    var text = el('textarea', {id: 'cfg-content', rows: '14', class: 'mono', spellcheck: 'false'});
    text.value = old;
    var review = el('div', {id: 'cfg-review', hidden: 'hidden'});
    var reviewed = false;
    function unreview() { reviewed = false; review.hidden = true; document.getElementById('dlg-ok').textContent = 'Review changes'; }
    text.addEventListener('input', unreview);
    type.addEventListener('change', unreview);
    NC.dialog({title: c ? 'Edit ' + c.dataId : 'Create config', ok: 'Review changes', wide: true,
      body: el('div', {}, [el('div', {class: 'row2'}, [NC.field('Data ID', d), NC.field('Group', g)]),
                           NC.field('Content type', type), NC.field('Content', text), review]),
      onOk: function () {
        var k = {dataId: c ? c.dataId : d.value.trim(), group: c ? c.group : g.value.trim()};
        if (!k.dataId || !k.group) return Promise.reject(new Error('Data ID and group are required.'));
        if (!text.value.trim()) return Promise.reject(new Error('The content is empty: Nacos does not store an empty config.'));
        var err = check(type.value, text.value);
        if (err && !reviewed) return Promise.reject(new Error(err));
        if (!reviewed) {
          review.textContent = '';
          review.appendChild(el('h2', {class: 'gap', text: c ? 'Changes to publish' : 'New content'}));
          review.appendChild(NC.diffView(NC.diff(old, text.value), c ? 'current' : '(none)', 'new'));
          review.hidden = false;
          reviewed = true;
          document.getElementById('dlg-ok').textContent = 'Publish';
          review.scrollIntoView({block: 'nearest'});
          return NC.KEEP;
        }
        return NC.api('POST', C, key(k, {content: text.value, type: type.value})).then(function (ok) {
          if (ok !== true && ok !== 'true') throw new Error('nacosd did not publish it: ' + ok);
          NC.toast('Published ' + k.dataId, 'ok');
          if (st.cfg) showDetail(st.cfg); else loadList();
        });
      }});
  }

  /* A syntax problem of the content for its type (checked where the
   * browser can: JSON, XML/HTML), or "". */
  function check(type, text) {
    try {
      if (type === 'json') JSON.parse(text);
      if (type === 'xml') {
        var x = new DOMParser().parseFromString(text, 'application/xml');
        if (x.getElementsByTagName('parsererror').length) return 'The content is not well-formed XML (press again to publish anyway).';
      }
    } catch (e) { return 'The content is not valid JSON: ' + e.message + ' (press again to publish anyway).'; }
    return '';
  }

  function remove(c) {
    NC.dialog({title: 'Delete ' + c.dataId + '?', ok: 'Delete', danger: true,
      body: el('div', {}, [el('p', {text: 'Group ' + c.group + ' in namespace ' + (NC.ns() || 'public') + '. Listeners are told at once.'})]),
      onOk: function () {
        return NC.api('DELETE', C, key(c)).then(function () { NC.toast('Deleted ' + c.dataId, 'ok'); loadList(); });
      }});
  }

  /* ---- one config: content, history, listeners ---- */

  function showDetail(c) {
    var root = st.root;
    st.cfg = c;
    root.textContent = '';
    root.appendChild(NC.head(c.dataId, 'Group ' + c.group + ' in namespace ' + (NC.ns() || 'public') + '.', [
      NC.btn('← All configs', {id: 'cfg-back'}), NC.btn('Edit', {id: 'cfg-edit', class: 'primary'}),
      NC.btn('Refresh', {id: 'cfg-refresh'})]));
    var pre = el('pre', {id: 'cfg-current', class: 'card content mono', text: 'loading…'});
    root.appendChild(pre);
    st.th = NC.table('hist-rows', [{t: 'Version'}, {t: 'Operation'}, {t: 'Time'}, {t: 'By'}, {t: 'MD5'}, {t: 'Actions', c: 'num'}]);
    st.tl = NC.table('lis-rows', [{t: 'Listener'}, {t: 'MD5 it holds'}, {t: 'Up to date'}]);
    root.appendChild(el('h2', {class: 'gap', text: 'History'}));
    root.appendChild(el('p', {class: 'muted', text: 'Each row keeps the content as it was before that change (a creation keeps what was created).'}));
    root.appendChild(st.th.wrap);
    root.appendChild(el('h2', {class: 'gap', text: 'Listeners'}));
    root.appendChild(st.tl.wrap);
    root.querySelector('#cfg-back').addEventListener('click', showList);
    root.querySelector('#cfg-refresh').addEventListener('click', function () { showDetail(c); });
    root.querySelector('#cfg-edit').addEventListener('click', function () { editor(c, st.current || ''); });
    st.th.body.addEventListener('click', onHistAction);
    loadDetail(c);
  }

  function loadDetail(c) {
    var my = st;
    NC.tableMsg(st.th, 'Loading the history…', 'loading');
    NC.tableMsg(st.tl, 'Loading the listeners…', 'loading');
    read(c).then(function (t) {
      if (st !== my || st.cfg !== c) return;
      st.current = t;
      st.root.querySelector('#cfg-current').textContent = t || '(deleted)';
    }, oops('read'));
    NC.api('GET', H, key(c, {search: 'accurate', pageNo: 1, pageSize: 100})).then(function (j) {
      if (st !== my || st.cfg !== c) return;
      st.hist = (j && j.pageItems) || [];
      st.th.body.textContent = '';
      if (!st.hist.length) NC.tableMsg(st.th, 'No history kept for this config.');
      st.hist.forEach(function (h, i) {
        var op = String(h.opType || '').trim();
        st.th.body.appendChild(el('tr', {'data-i': String(i), 'data-nid': String(h.id)}, [
          el('td', {class: 'mono', text: String(h.id)}),
          el('td', {}, [el('span', {class: 'badge ' + (op === 'D' ? 'bad' : op === 'I' ? 'ok' : 'info'),
                                    text: op === 'I' ? 'created' : op === 'D' ? 'deleted' : 'updated'})]),
          el('td', {text: h.lastModifiedTime ? new Date(h.lastModifiedTime).toLocaleString() : NC.fmtTime(h.modifyTime)}),
          el('td', {text: [h.srcUser, h.srcIp].filter(function (x) { return x; }).join(' from ') || '–'}),
          el('td', {class: 'mono sub', text: h.md5 || ''}),
          el('td', {class: 'actions'}, [NC.btn('Diff with current', {class: 'small', 'data-action': 'diff'}),
                                        NC.btn('Roll back', {class: 'small', 'data-action': 'rollback'})])]));
      });
    }, function (e) { if (st === my && !e.auth) NC.tableMsg(st.th, 'Could not read the history: ' + e.message, 'error'); });
    NC.api('GET', C + '/listener', key(c, {sampleTime: 1})).then(function (j) {
      if (st !== my || st.cfg !== c) return;
      var m = (j && (j.lisentersGroupkeyStatus || j.listenersGroupkeyStatus)) || {}, ips = Object.keys(m);
      st.tl.body.textContent = '';
      if (!ips.length) NC.tableMsg(st.tl, 'Nobody listens to this config on this node.');
      ips.sort().forEach(function (ip) {
        st.tl.body.appendChild(el('tr', {'data-listener': ip}, [el('td', {class: 'mono', text: ip}),
          el('td', {class: 'mono', text: m[ip]}), el('td', {class: 'fresh', 'data-md5': m[ip], text: '…'})]));
      });
      markFresh();
    }, function (e) { if (st === my && !e.auth) NC.tableMsg(st.tl, 'Could not read the listeners: ' + e.message, 'error'); });
  }

  /* Listeners whose md5 is the current content's. */
  function markFresh() {
    NC.api('GET', C, key(st.cfg, {show: 'all'})).then(function (j) {
      var md5 = j && j.md5;
      st.tl.body.querySelectorAll('td.fresh').forEach(function (td) {
        var ok = md5 && td.getAttribute('data-md5') === md5;
        td.textContent = '';
        td.appendChild(el('span', {class: 'badge ' + (ok ? 'ok' : 'warn'), text: ok ? 'yes' : md5 ? 'no' : '?'}));
      });
    }, function () { /* the column stays unknown */ });
  }

  function version(h) {
    return NC.api('GET', H, key(st.cfg, {nid: h.id})).then(function (v) { return (v && v.content) || ''; });
  }

  function onHistAction(ev) {
    var b = ev.target.closest('button[data-action]');
    if (!b) return;
    var h = st.hist[Number(b.closest('tr').getAttribute('data-i'))], c = st.cfg;
    var rb = b.getAttribute('data-action') === 'rollback';
    Promise.all([version(h), read(c)]).then(function (r) {
      var body = el('div', {}, [el('p', {text: rb ? 'The config gets the content of version ' + h.id + ' back. The change:' :
                                                    'Version ' + h.id + ' against the current content:'}),
                                NC.diffView(NC.diff(rb ? r[1] : r[0], rb ? r[0] : r[1]), rb ? 'current' : 'version ' + h.id, rb ? 'version ' + h.id : 'current')]);
      NC.dialog({title: (rb ? 'Roll back ' : 'Version ') + h.id + ' of ' + c.dataId, wide: true, ok: rb ? 'Roll back' : 'Close', body: body,
        onOk: rb ? function () { return rollback(c, h, r[0]); } : null});
    }, oops('read'));
  }

  function rollback(c, h, content) {
    return NC.api('POST', H + '/rollback', key(c, {nid: h.id})).catch(function (e) {
      if (e.status !== 404 && e.status !== 405) throw e;
      return NC.api('POST', C, key(c, {content: content, type: c.type || 'text'})); /* as Nacos's console */
    }).then(function () {
      NC.toast('Rolled ' + c.dataId + ' back to version ' + h.id, 'ok');
      showDetail(c);
    });
  }

  NC.page('configs', {title: 'Configs', order: 20, mount: mount, unmount: unmount});
})();

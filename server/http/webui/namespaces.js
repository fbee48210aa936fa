/* nacos-c console, the Namespaces page: Nacos's namespace API
 * (GET /nacos/v1/console/namespaces, the public one first; create, edit
 * and delete over /nacos/v2/console/namespace, whose errors say why). A
 * namespace that still holds configs is not deleted: Nacos refuses it,
 * and the page says so before asking. */
(function () {
  'use strict';
  var el = NC.el, V2 = '/nacos/v2/console/namespace';
  var st = null;

  function mount(root) {
    st = {root: root, list: []};
    var t = NC.table('ns-rows', [{t: 'Namespace'}, {t: 'ID'}, {t: 'Description'}, {t: 'Configs', c: 'num'},
                                 {t: 'Actions', c: 'num'}]);
    st.t = t;
    root.appendChild(NC.head('Namespaces', 'Configs and services live in one namespace each; public is the default.', [
      NC.btn('Create namespace', {id: 'ns-create', class: 'primary'}), NC.btn('Refresh', {id: 'ns-refresh'})]));
    root.appendChild(t.wrap);
    root.querySelector('#ns-create').addEventListener('click', function () { edit(null); });
    root.querySelector('#ns-refresh').addEventListener('click', load);
    t.body.addEventListener('click', onAction);
    load();
  }
  function unmount() { st = null; }

  function load() {
    NC.tableMsg(st.t, 'Loading the namespaces…', 'loading');
    var my = st;
    NC.api('GET', '/nacos/v1/console/namespaces').then(function (list) {
      if (st !== my) return;
      st.list = list || [];
      render();
    }, function (e) { if (st === my && !e.auth) NC.tableMsg(st.t, 'Could not read the namespaces: ' + e.message, 'error'); });
  }

  function render() {
    st.t.body.textContent = '';
    st.list.forEach(function (n) {
      var id = n.namespace || '';
      var pub = !id || n.type === 0;
      st.t.body.appendChild(el('tr', {'data-ns': id || 'public'}, [
        el('td', {}, [el('b', {text: n.namespaceShowName || id || 'public'}), pub ? ' ' : null,
                      pub ? el('span', {class: 'badge info', text: 'default'}) : null]),
        el('td', {class: 'mono', text: id || 'public'}),
        el('td', {text: n.namespaceDesc || ''}),
        el('td', {class: 'num', text: String(n.configCount || 0)}),
        el('td', {class: 'actions'}, pub ? [] : [
          NC.btn('Edit', {class: 'small', 'data-action': 'edit'}),
          NC.btn('Delete', {class: 'small danger', 'data-action': 'delete'})])]));
    });
  }

  function find(id) { return st.list.filter(function (n) { return (n.namespace || 'public') === id; })[0]; }

  function onAction(ev) {
    var b = ev.target.closest('button[data-action]');
    if (!b) return;
    var n = find(b.closest('tr').getAttribute('data-ns'));
    if (!n) return;
    if (b.getAttribute('data-action') === 'edit') edit(n);
    else remove(n);
  }

  /* Create (n null) or edit one namespace in a dialog. */
  function edit(n) {
    var id = el('input', {id: 'ns-id', placeholder: 'generated when empty', value: n ? n.namespace : ''});
    if (n) id.disabled = true;
    var name = el('input', {id: 'ns-name', value: n ? n.namespaceShowName : ''});
    var desc = el('input', {id: 'ns-desc', value: n ? n.namespaceDesc || '' : ''});
    NC.dialog({title: n ? 'Edit namespace' : 'Create namespace', ok: n ? 'Save' : 'Create',
      body: el('div', {}, [NC.field('Namespace ID', id, 'Letters, digits, "-" and "_"; cannot be changed later.'),
                           NC.field('Name', name), NC.field('Description', desc)]),
      onOk: function () {
        if (!name.value.trim()) return Promise.reject(new Error('The name is required.'));
        var p = {namespaceName: name.value.trim(), namespaceDesc: desc.value};
        if (n) p.namespaceId = n.namespace;
        else if (id.value.trim()) p.namespaceId = id.value.trim();
        else p.namespaceId = newId();
        return NC.api(n ? 'PUT' : 'POST', V2, p).then(function () {
          NC.toast((n ? 'Saved namespace ' : 'Created namespace ') + p.namespaceName, 'ok');
          load();
        });
      }});
  }

  /* A UUID for a namespace created without an ID, as Nacos's console does. */
  function newId() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 15) | 64;
    b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  function remove(n) {
    if (n.configCount > 0) {
      NC.dialog({title: 'Namespace not empty', ok: 'Close', body: el('div', {}, [
        el('p', {id: 'ns-not-empty', text: 'Namespace ' + n.namespaceShowName + ' still holds ' + n.configCount +
          ' config(s). Delete them first: Nacos does not delete a namespace that is not empty.'})])});
      return;
    }
    NC.dialog({title: 'Delete namespace ' + n.namespaceShowName + '?', ok: 'Delete', danger: true,
      body: el('div', {}, [el('p', {text: 'ID ' + n.namespace + '. This cannot be undone.'})]),
      onOk: function () {
        return NC.api('DELETE', V2, {namespaceId: n.namespace}).then(function () {
          NC.toast('Deleted namespace ' + n.namespaceShowName, 'ok');
          if (NC.ns() === n.namespace) NC.ns('');
          load();
        });
      }});
  }

  NC.page('namespaces', {title: 'Namespaces', order: 30, mount: mount, unmount: unmount});
})();

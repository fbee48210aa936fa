/* nacos-c console, the Services page: a namespace's services with their
 * cluster / instance / healthy counts (GET /nacos/v1/ns/catalog/services,
 * searched by name and group), and one service's detail: its instances
 * (GET /nacos/v1/ns/catalog/instances), an instance's weight, enabled and
 * metadata edited with Nacos's PUT /nacos/v1/ns/instance, and the
 * connections subscribed to it (GET /nacos/v1/ns/service/subscribers);
 * a service created, edited (protect threshold, metadata) and deleted with
 * Nacos's POST / PUT / DELETE /nacos/v1/ns/service.
 * Both views refresh every 3 s, so instances appear as they register. */
(function () {
  'use strict';
  var el = NC.el, REFRESH_MS = 3000, PAGE = 50;
  var st = null;

  function nsId() { return NC.ns() || 'public'; }

  function mount(root) {
    st = {root: root, svc: null, timer: null, insts: []};
    st.timer = setInterval(function () { if (st && !document.hidden) refresh(); }, REFRESH_MS);
    showList();
  }
  function unmount() { if (st) clearInterval(st.timer); st = null; }
  function refresh() { if (st.svc) loadDetail(); else loadList(); }

  /* ---- the list ---- */

  /* 1 when what came for part is what is shown already. */
  function same(part, data) {
    var sig = JSON.stringify(data);
    if (st.sig[part] === sig) return true;
    st.sig[part] = sig;
    return false;
  }

  function showList() {
    var root = st.root;
    st.svc = null;
    st.sig = {};
    root.textContent = '';
    var name = el('input', {id: 'svc-q-name', placeholder: 'Service name contains…', value: st.qName || ''});
    var group = el('input', {id: 'svc-q-group', placeholder: 'Group contains…', value: st.qGroup || ''});
    var empty = el('input', {type: 'checkbox', id: 'svc-hide-empty'});
    if (st.hideEmpty) empty.checked = true;
    root.appendChild(NC.head('Services', 'Every service of the namespace, over all its groups.', [
      NC.nsSelect(function () { st.pageNo = 1; loadList(); }), NC.btn('Create service', {id: 'svc-create', class: 'primary'}),
      NC.btn('Refresh', {id: 'svc-refresh'})]));
    var form = el('form', {class: 'card search', id: 'svc-search'}, [name, group,
      el('label', {class: 'check'}, [empty, 'Hide empty services']),
      el('button', {type: 'submit', class: 'btn primary', id: 'svc-search-go', text: 'Search'})]);
    root.appendChild(form);
    st.t = NC.table('svc-rows', [{t: 'Service'}, {t: 'Group'}, {t: 'Clusters', c: 'num opt'}, {t: 'Instances', c: 'num'},
                                 {t: 'Healthy', c: 'num'}, {t: 'Actions', c: 'num'}]);
    root.appendChild(st.t.wrap);
    root.appendChild(el('p', {class: 'muted', id: 'svc-foot'}));
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      st.qName = name.value.trim();
      st.qGroup = group.value.trim();
      st.hideEmpty = empty.checked;
      st.pageNo = 1;
      loadList();
    });
    root.querySelector('#svc-refresh').addEventListener('click', loadList);
    root.querySelector('#svc-create').addEventListener('click', function () { editService(null); });
    st.t.body.addEventListener('click', function (ev) {
      var tr = ev.target.closest('tr[data-svc]'), b = ev.target.closest('button,a');
      if (!tr || !b) return;
      ev.preventDefault();
      var group = tr.getAttribute('data-group'), name = tr.getAttribute('data-name');
      if (b.getAttribute('data-action') === 'delete') deleteService(group, name);
      else showDetail(group, name);
    });
    NC.tableMsg(st.t, 'Loading the services…', 'loading');
    loadList();
  }

  function loadList() {
    var my = st;
    NC.api('GET', '/nacos/v1/ns/catalog/services', {namespaceId: nsId(), serviceNameParam: st.qName,
      groupNameParam: st.qGroup, hasIpCount: st.hideEmpty ? 'true' : '', pageNo: st.pageNo || 1, pageSize: PAGE})
      .then(function (j) {
        if (st !== my || st.svc) return;
        var rows = (j && j.serviceList) || [];
        if (same('list', j)) return; /* a refresh with nothing new keeps the rows (and a click on them) */
        st.t.body.textContent = '';
        if (!rows.length) NC.tableMsg(st.t, 'No services in namespace ' + nsId() + (st.qName || st.qGroup ? ' match the search.' : ' yet.'));
        rows.forEach(function (s) {
          var bad = s.healthyInstanceCount < s.ipCount;
          st.t.body.appendChild(el('tr', {'data-svc': s.groupName + '@@' + s.name, 'data-group': s.groupName, 'data-name': s.name}, [
            el('td', {}, [el('a', {href: '#/services', class: 'svc-link', text: s.name})]),
            el('td', {text: s.groupName}),
            el('td', {class: 'num opt', text: String(s.clusterCount)}),
            el('td', {class: 'num ips', text: String(s.ipCount)}),
            el('td', {class: 'num'}, [s.triggerFlag === 'true' ? el('span', {class: 'badge bad', title: 'At or below the protect threshold: unhealthy instances are served too', text: 'protected'}) : null,
                                      ' ', el('span', {class: 'badge ' + (bad ? 'warn' : s.ipCount ? 'ok' : ''), text: String(s.healthyInstanceCount)})]),
            el('td', {class: 'actions'}, [NC.btn('Details', {class: 'small', 'data-action': 'detail'}),
                                          NC.btn('Delete', {class: 'small danger', 'data-action': 'delete'})])]));
        });
        if (!rows.length && j.count && st.pageNo > 1) { st.pageNo = 1; loadList(); return; } /* the page emptied */
        NC.pager(st.root.querySelector('#svc-foot'), 'service(s)', j.count || 0, st.pageNo || 1, PAGE,
                 function (n) { st.pageNo = n; loadList(); });
      }, function (e) { if (st === my && !st.svc && !e.auth) { st.sig.list = null; NC.tableMsg(st.t, 'Could not read the services: ' + e.message, 'error'); } });
  }

  /* ---- one service ---- */

  function showDetail(group, name) {
    var root = st.root;
    st.svc = {group: group, name: name};
    st.sig = {};
    root.textContent = '';
    root.appendChild(NC.head(name, 'Group ' + group + ' in namespace ' + nsId() + '.', [
      NC.btn('← All services', {id: 'svc-back'}), NC.btn('Edit service', {id: 'svc-edit'}),
      NC.btn('Refresh', {id: 'svc-refresh'})]));
    st.ti = NC.table('inst-rows', [{t: 'IP'}, {t: 'Port', c: 'num'}, {t: 'Cluster'}, {t: 'Weight', c: 'num'},
      {t: 'Healthy'}, {t: 'Enabled'}, {t: 'Ephemeral'}, {t: 'Metadata'}, {t: 'Actions', c: 'num'}]);
    st.ts = NC.table('sub-rows', [{t: 'Address'}, {t: 'Client'}, {t: 'App'}, {t: 'Clusters'}]);
    root.appendChild(el('div', {class: 'card svc-info', id: 'svc-info'}, [el('span', {class: 'muted', text: 'loading the service…'})]));
    root.appendChild(el('h2', {text: 'Instances'}));
    root.appendChild(st.ti.wrap);
    root.appendChild(el('h2', {class: 'gap', text: 'Subscribers on this node'}));
    root.appendChild(st.ts.wrap);
    root.querySelector('#svc-back').addEventListener('click', showList);
    root.querySelector('#svc-edit').addEventListener('click', function () {
      NC.api('GET', '/nacos/v1/ns/service', svcParams()).then(editService, function (e) {
        if (!e.auth) NC.toast('Could not read the service: ' + e.message, 'error');
      });
    });
    root.querySelector('#svc-refresh').addEventListener('click', loadDetail);
    st.ti.body.addEventListener('click', function (ev) {
      var b = ev.target.closest('button[data-action]');
      if (!b) return;
      var h = st.insts[Number(b.closest('tr').getAttribute('data-i'))];
      if (b.getAttribute('data-action') === 'edit') editInstance(h);
      else putInstance(h, h.weight, !h.enabled, h.metadata || {}, (h.enabled ? 'Disabled ' : 'Enabled ') + h.ip + ':' + h.port);
    });
    NC.tableMsg(st.ti, 'Loading the instances…', 'loading');
    NC.tableMsg(st.ts, 'Loading the subscribers…', 'loading');
    loadDetail();
  }

  function svcParams(extra) {
    var p = {namespaceId: nsId(), serviceName: st.svc.name, groupName: st.svc.group};
    for (var k in extra || {}) p[k] = extra[k];
    return p;
  }
  function yesNo(v, goodWhenTrue) {
    return el('span', {class: 'badge ' + (v ? (goodWhenTrue ? 'ok' : 'info') : (goodWhenTrue ? 'bad' : '')), text: v ? 'yes' : 'no'});
  }
  function metaText(m) {
    return Object.keys(m || {}).sort().map(function (k) { return k + '=' + m[k]; }).join(', ');
  }

  function loadDetail() {
    var my = st, svc = st.svc;
    NC.api('GET', '/nacos/v1/ns/service', svcParams()).then(function (j) {
      if (st !== my || st.svc !== svc) return;
      var box = st.root.querySelector('#svc-info'), m = metaLines(j && j.metadata).replace(/\n/g, ', ');
      box.textContent = '';
      box.appendChild(el('span', {}, [el('b', {text: 'Protect threshold '}), String((j && j.protectThreshold) || 0)]));
      box.appendChild(el('span', {}, [el('b', {text: 'Metadata '}), m || 'none']));
      box.appendChild(el('span', {}, [el('b', {text: 'Clusters '}), ((j && j.clusters) || []).map(function (c) { return c.name; }).join(', ') || 'none']));
    }, function (e) { if (st === my && st.svc === svc && !e.auth) st.root.querySelector('#svc-info').textContent = 'Could not read the service: ' + e.message; });
    NC.api('GET', '/nacos/v1/ns/catalog/instances', svcParams({pageNo: 1, pageSize: 1000})).then(function (j) {
      if (st !== my || st.svc !== svc || same('insts', j)) return;
      st.insts = (j && j.list) || [];
      st.ti.body.textContent = '';
      if (!st.insts.length) NC.tableMsg(st.ti, 'No instances.');
      st.insts.forEach(function (h, i) {
        st.ti.body.appendChild(el('tr', {'data-i': String(i), 'data-addr': h.ip + ':' + h.port}, [
          el('td', {class: 'mono', text: h.ip}), el('td', {class: 'num', text: String(h.port)}),
          el('td', {text: h.clusterName || 'DEFAULT'}), el('td', {class: 'num weight', text: String(h.weight)}),
          el('td', {}, [yesNo(h.healthy, true)]), el('td', {class: 'enabled'}, [yesNo(h.enabled, true)]),
          el('td', {}, [yesNo(h.ephemeral, false)]),
          el('td', {class: 'meta mono', text: metaText(h.metadata)}),
          el('td', {class: 'actions'}, [NC.btn(h.enabled ? 'Disable' : 'Enable', {class: 'small', 'data-action': 'toggle',
                                                  title: h.enabled ? 'Take it out of the traffic (enabled=false)' : 'Give it traffic again'}),
                                        NC.btn('Edit', {class: 'small', 'data-action': 'edit'})])]));
      });
    }, function (e) { if (st === my && st.svc === svc && !e.auth) { st.sig.insts = null; NC.tableMsg(st.ti, 'Could not read the instances: ' + e.message, 'error'); } });
    NC.api('GET', '/nacos/v1/ns/service/subscribers', svcParams({pageNo: 1, pageSize: 1000})).then(function (j) {
      if (st !== my || st.svc !== svc || same('subs', j)) return;
      var subs = (j && j.subscribers) || [];
      st.ts.body.textContent = '';
      if (!subs.length) NC.tableMsg(st.ts, 'No connection of this node subscribes to the service.');
      subs.forEach(function (s) {
        st.ts.body.appendChild(el('tr', {'data-addr': s.addrStr}, [el('td', {class: 'mono', text: s.addrStr}),
          el('td', {text: s.agent || ''}), el('td', {text: s.app || ''}), el('td', {text: s.cluster || 'all'})]));
      });
    }, function (e) { if (st === my && st.svc === svc && !e.auth) { st.sig.subs = null; NC.tableMsg(st.ts, 'Could not read the subscribers: ' + e.message, 'error'); } });
  }

  /* "k=v" lines (or a JSON object) into an object; throws with the line. */
  function parseMeta(text) {
    var t = text.trim(), out = {};
    if (!t) return out;
    if (t[0] === '{') {
      var o = JSON.parse(t);
      if (!o || typeof o !== 'object' || Array.isArray(o)) throw new Error('Metadata must be a JSON object.');
      for (var k in o) out[k] = String(o[k]);
      return out;
    }
    t.split('\n').forEach(function (line, i) {
      var l = line.trim(), eq = l.indexOf('=');
      if (!l) return;
      if (eq < 1) throw new Error('Metadata line ' + (i + 1) + ' is not key=value: ' + l);
      out[l.slice(0, eq).trim()] = l.slice(eq + 1).trim();
    });
    return out;
  }

  function metaLines(m) {
    return Object.keys(m || {}).sort().map(function (k) { return k + '=' + m[k]; }).join('\n');
  }

  /* Create (s null) or edit a service: protect threshold and metadata,
   * Nacos's POST / PUT /nacos/v1/ns/service. */
  function editService(s) {
    var name = el('input', {id: 'svc-name', value: s ? s.name : ''}), group = el('input', {id: 'svc-group', value: s ? s.groupName : 'DEFAULT_GROUP'});
    if (s) { name.disabled = true; group.disabled = true; }
    var thr = el('input', {id: 'svc-threshold', type: 'number', min: '0', max: '1', step: '0.05', value: String(s ? s.protectThreshold || 0 : 0)});
    var meta = el('textarea', {id: 'svc-meta', rows: '4', class: 'mono'});
    meta.value = s ? metaLines(s.metadata) : '';
    NC.dialog({title: s ? 'Edit service ' + s.name : 'Create service', ok: s ? 'Save' : 'Create', body: el('div', {}, [
      el('div', {class: 'row2'}, [NC.field('Service name', name), NC.field('Group', group)]),
      NC.field('Protect threshold', thr, '0 to 1: below this share of healthy instances, unhealthy ones are served too.'),
      NC.field('Metadata', meta, 'One key=value a line, or a JSON object.')]),
      onOk: function () {
        var t = Number(thr.value);
        if (!name.value.trim() || !group.value.trim()) return Promise.reject(new Error('Service name and group are required.'));
        if (thr.value === '' || !isFinite(t) || t < 0 || t > 1) return Promise.reject(new Error('The protect threshold must be a number from 0 to 1.'));
        var p = {namespaceId: nsId(), serviceName: name.value.trim(), groupName: group.value.trim(),
                 protectThreshold: String(t), metadata: JSON.stringify(parseMeta(meta.value))};
        return NC.api(s ? 'PUT' : 'POST', '/nacos/v1/ns/service', p).then(function () {
          NC.toast((s ? 'Saved service ' : 'Created service ') + p.serviceName, 'ok');
          refresh();
        });
      }});
  }

  function deleteService(group, name) {
    NC.dialog({title: 'Delete service ' + name + '?', ok: 'Delete', danger: true,
      body: el('div', {}, [el('p', {text: 'Group ' + group + ' in namespace ' + nsId() + '. nacosd refuses while the service has instances.'})]),
      onOk: function () {
        return NC.api('DELETE', '/nacos/v1/ns/service', {namespaceId: nsId(), serviceName: name, groupName: group}).then(function () {
          NC.toast('Deleted service ' + name, 'ok');
          loadList();
        });
      }});
  }

  function editInstance(h) {
    if (!h) return;
    var w = el('input', {id: 'inst-weight', type: 'number', min: '0', max: '10000', step: '0.1', value: String(h.weight)});
    var en = el('input', {type: 'checkbox', id: 'inst-enabled'});
    if (h.enabled) en.checked = true;
    var meta = el('textarea', {id: 'inst-meta', rows: '5', class: 'mono'});
    meta.value = metaLines(h.metadata);
    NC.dialog({title: 'Edit ' + h.ip + ':' + h.port, ok: 'Save', body: el('div', {}, [
      NC.field('Weight', w, '0 to 10000; 0 takes the instance out of load balancing.'),
      el('label', {class: 'check'}, [en, 'Enabled (receives traffic)']),
      NC.field('Metadata', meta, 'One key=value a line, or a JSON object.')]),
      onOk: function () {
        var wt = Number(w.value);
        if (w.value === '' || !isFinite(wt) || wt < 0 || wt > 10000) return Promise.reject(new Error('The weight must be a number from 0 to 10000.'));
        return putInstance(h, wt, en.checked, parseMeta(meta.value), 'Saved ' + h.ip + ':' + h.port);
      }});
  }

  /* Nacos's instance update: weight, enabled and metadata all replaced. */
  function putInstance(h, weight, enabled, meta, done) {
    return NC.api('PUT', '/nacos/v1/ns/instance', svcParams({ip: h.ip, port: h.port, clusterName: h.clusterName || 'DEFAULT',
      weight: String(weight), enabled: enabled ? 'true' : 'false', ephemeral: h.ephemeral ? 'true' : 'false',
      metadata: JSON.stringify(meta)})).then(function () {
      NC.toast(done, 'ok');
      loadDetail();
    }, function (e) { if (!e.auth) NC.toast('Could not update ' + h.ip + ':' + h.port + ': ' + e.message, 'error'); throw e; });
  }

  NC.page('services', {title: 'Services', order: 10, mount: mount, unmount: unmount});
})();

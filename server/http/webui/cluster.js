/* nacos-c console, the Cluster page: every member's connection load from
 * the loader API (GET /nacos/v3/admin/core/loader/cluster, nacos-c's "nc"
 * extras), refreshed every 2.5 s, and the operator's actions on it: limit,
 * reload to a count, drain/undrain, move one client, automatic rebalance. */
(function () {
  'use strict';
  var L = '/nacos/v3/admin/core/loader/';
  var REFRESH_MS = 2500;
  var el = NC.el;

  function fmtBytes(n) {
    if (typeof n !== 'number' || n < 0) return '–';
    var u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(n < 10 ? 1 : 0) : n) + ' ' + u[i];
  }
  function num(v, d) { var n = Number(v); return isFinite(n) ? n : d; }
  function signed(n) { return n > 0 ? '+' + n : n < 0 ? '−' + (-n) : '0'; }
  function hhmmss(d) { return d.toTimeString().slice(0, 8); }

  var st = null; /* the mounted page's state */

  function stat(key, label) {
    return el('div', {class: 'card stat', 'data-stat': key}, [
      el('div', {class: 'k', text: label}), el('div', {class: 'v', text: '–'}), el('div', {class: 's', text: '\u00a0'})]);
  }
  function setStat(key, v, s) {
    var c = st.root.querySelector('[data-stat="' + key + '"]');
    c.querySelector('.v').textContent = v;
    c.querySelector('.s').textContent = s || '\u00a0';
  }

  function mount(root) {
    st = {root: root, rows: {}, data: null, timer: null, busy: false, paused: false, legacy: false, last: null};
    var sw = el('div', {class: 'switch', id: 'rebalance-toggle', role: 'switch', tabindex: '0', 'aria-checked': 'false',
                        title: 'Automatic rebalance on every member'},
                [el('span', {class: 'track'}), el('span', {id: 'rebalance-label', text: 'Automatic rebalance'})]);
    var pause = el('input', {type: 'checkbox', id: 'autorefresh', checked: 'checked'});
    var head = el('div', {class: 'page-head'}, [
      el('div', {}, [el('h1', {text: 'Cluster load'}),
                     el('div', {class: 'muted', text: 'SDK connections per member, their average and each member\u2019s distance from it.'})]),
      el('div', {class: 'tools'}, [
        sw,
        el('label', {class: 'check'}, [pause, 'Auto-refresh']),
        el('span', {class: 'stamp', id: 'stamp', text: 'loading…'}),
        el('button', {type: 'button', class: 'btn', id: 'balance', text: 'Balance once',
                      title: 'Nacos smartReloadCluster: members above the average shed towards those below'}),
        el('button', {type: 'button', class: 'btn', id: 'refresh', text: 'Refresh'})])]);
    var stats = el('div', {class: 'stats'}, [stat('nodes', 'Nodes'), stat('total', 'Connections'),
                                             stat('avg', 'Average per node'), stat('spread', 'Min / max')]);
    var banner = el('div', {id: 'cluster-msg', class: 'msg error', role: 'alert', hidden: 'hidden'});
    var thead = el('thead', {}, [el('tr', {}, [
      el('th', {text: 'Member'}), el('th', {text: 'State'}), el('th', {class: 'num', text: 'Connections'}),
      el('th', {class: 'num', text: '± average'}), el('th', {class: 'num', text: 'Load'}),
      el('th', {class: 'num opt', text: 'Memory'}), el('th', {class: 'num', text: 'Limit'}),
      el('th', {class: 'num opt', text: 'Moved out'}),
      el('th', {class: 'num', text: 'Actions'})])]);
    var tbody = el('tbody', {id: 'members'}, [el('tr', {class: 'loading'}, [
      el('td', {colspan: '9', class: 'empty'}, [el('span', {class: 'spinner'}), ' Loading the cluster…'])])]);
    var table = el('div', {class: 'card table-wrap'}, [el('table', {id: 'members-table'}, [thead, tbody])]);
    root.appendChild(head);
    root.appendChild(banner);
    root.appendChild(stats);
    root.appendChild(table);
    root.appendChild(el('p', {class: 'muted', id: 'cluster-foot', text: ''}));

    tbody.addEventListener('click', onRowAction);
    root.querySelector('#refresh').addEventListener('click', refresh);
    root.querySelector('#balance').addEventListener('click', onBalance);
    pause.addEventListener('change', function () { st.paused = !pause.checked; if (!st.paused) refresh(); });
    sw.addEventListener('click', onSwitch);
    sw.addEventListener('keydown', function (e) { if (e.key === ' ' || e.key === 'Enter') { e.preventDefault(); onSwitch(); } });
    refresh();
    st.timer = setInterval(function () { if (!st.paused) refresh(); }, REFRESH_MS);
  }

  function unmount() { if (st) { clearInterval(st.timer); st.root.classList.remove('stale'); } st = null; }

  /* The Nacos member list when this nacosd has no loader API yet: the
   * table still shows who is there. */
  function legacyView() {
    return NC.api('GET', '/nacos/v1/core/cluster/nodes').then(function (list) {
      var detail = (list || []).map(function (m) {
        return {address: m.address, sdkConCount: null, nc: {state: m.state}};
      });
      return {legacy: true, memberCount: detail.length, metricsCount: 0, detail: detail};
    });
  }

  /* Members that did not answer the gather are not in detail (nc.missing
   * lists them): rows of their own, in the state the member list gives. */
  function withMissing(d) {
    var miss = (d && d.nc && d.nc.missing) || [];
    if (!miss.length) return d;
    function add(states) {
      miss.forEach(function (a) {
        d.detail.push({address: a, sdkConCount: null, missing: true, nc: {state: states[a] || 'DOWN'}});
      });
      return d;
    }
    return NC.api('GET', '/nacos/v1/core/cluster/nodes').then(function (list) {
      var states = {};
      (list || []).forEach(function (m) { states[m.address] = m.state; });
      return add(states);
    }, function (e) { if (e.auth) throw e; return add({}); });
  }

  function refresh() {
    if (!st || st.busy) return;
    st.busy = true;
    var mine = st;
    NC.api('GET', L + 'cluster').catch(function (e) {
      if (e.status === 404) return legacyView();
      throw e;
    }).then(withMissing).then(function (d) {
      if (mine !== st) return;
      st.data = d;
      st.last = new Date();
      render(d);
      var b = st.root.querySelector('#cluster-msg');
      if (d.legacy) {
        b.className = 'msg warn';
        b.textContent = 'This nacosd has no loader API (/nacos/v3/admin/core/loader): members are listed, loads and actions are not available.';
        b.hidden = false;
      } else if (d.completed === false) {
        b.className = 'msg warn';
        b.textContent = 'Only ' + d.metricsCount + ' of ' + d.memberCount + ' members answered; the average counts those.';
        b.hidden = false;
      } else {
        b.hidden = true;
      }
      st.root.classList.remove('stale');
      var s = st.root.querySelector('#stamp');
      s.textContent = 'updated ' + hhmmss(st.last);
      s.className = 'stamp';
    }, function (e) {
      if (mine !== st || e.auth) return;
      var b = st.root.querySelector('#cluster-msg');
      b.className = 'msg error';
      b.textContent = 'Could not load the cluster: ' + e.message +
        (st.last ? ' — showing the data of ' + hhmmss(st.last) + '.' : '');
      b.hidden = false;
      st.root.classList.add('stale'); /* the numbers below are old: dimmed */
      var s = st.root.querySelector('#stamp');
      s.textContent = st.last ? 'stale since ' + hhmmss(st.last) : 'no data';
      s.className = 'stamp stale';
      if (!st.last) {
        var tb = st.root.querySelector('#members');
        tb.textContent = '';
        tb.appendChild(el('tr', {}, [el('td', {colspan: '9', class: 'empty', text: 'No data: ' + e.message})]));
      }
    }).then(function () { if (mine === st) st.busy = false; });
  }

  function memberState(m) { return (m.nc && m.nc.state) || 'UP'; }
  function upMembers(except) {
    return ((st.data && st.data.detail) || []).filter(function (m) {
      return m.address !== except && memberState(m) === 'UP' && !(m.nc && m.nc.draining);
    }).map(function (m) { return m.address; });
  }

  function newRow(addr) {
    var tr = el('tr', {'data-addr': addr});
    var cells = ['addr mono', 'state', 'num conns', 'num diff', 'num load', 'num opt mem', 'num limit',
                 'num opt moves', 'actions'];
    cells.forEach(function (c) { tr.appendChild(el('td', {class: c})); });
    var act = tr.querySelector('td.actions');
    [['limit', 'Limit'], ['reload', 'Reload'], ['drain', 'Drain'], ['undrain', 'Undrain'], ['clients', 'Clients']]
      .forEach(function (a) {
        act.appendChild(el('button', {type: 'button', class: 'btn small' + (a[0] === 'drain' ? ' danger' : ''),
                                      'data-action': a[0], 'data-addr': addr, text: a[1]}));
      });
    return tr;
  }

  function render(d) {
    var tb = st.root.querySelector('#members');
    var detail = (d.detail || []).slice().sort(function (a, b) { return a.address < b.address ? -1 : 1; });
    var avg = num(d.avg, 0), max = 0, seen = {};
    detail.forEach(function (m) { max = Math.max(max, num(m.sdkConCount, 0)); });
    var loading = tb.querySelector('tr.loading, td.empty');
    if (loading) tb.textContent = '';
    detail.forEach(function (m) {
      var tr = st.rows[m.address];
      if (!tr) { tr = st.rows[m.address] = newRow(m.address); }
      tb.appendChild(tr); /* keeps the order; moves an existing row in place */
      seen[m.address] = 1;
      fillRow(tr, m, avg, max, d.legacy);
    });
    Object.keys(st.rows).forEach(function (a) { if (!seen[a]) { st.rows[a].remove(); delete st.rows[a]; } });
    if (!detail.length) tb.appendChild(el('tr', {}, [el('td', {colspan: '9', class: 'empty', text: 'No members.'})]));

    var up = detail.filter(function (m) { return memberState(m) === 'UP'; }).length;
    setStat('nodes', String(num(d.memberCount, detail.length)),
            up + ' up' + (detail.length - up ? ', ' + (detail.length - up) + ' not up' : '') +
            (d.legacy ? '' : ' · ' + num(d.metricsCount, 0) + ' reporting'));
    setStat('total', d.legacy ? '–' : String(num(d.total, 0)), d.legacy ? '' : 'SDK connections');
    setStat('avg', d.legacy ? '–' : String(avg), d.legacy ? '' : 'fair share; threshold ' + (d.threshold !== undefined ? Number(d.threshold).toFixed(1) : '–'));
    setStat('spread', d.legacy ? '–' : num(d.min, 0) + ' / ' + num(d.max, 0), d.legacy ? '' : 'connections per node');

    var sw = st.root.querySelector('#rebalance-toggle'), mode = d.nc && d.nc.rebalance;
    sw.setAttribute('aria-checked', mode === 'auto' ? 'true' : 'false');
    sw.setAttribute('data-mixed', mode === 'mixed' ? 'true' : 'false');
    sw.setAttribute('data-mode', mode || 'unknown');
    sw.setAttribute('aria-disabled', mode ? 'false' : 'true');
    st.root.querySelector('#rebalance-label').textContent = 'Automatic rebalance: ' +
      (mode === 'auto' ? 'on' : mode === 'off' ? 'off' : mode === 'mixed' ? 'mixed' : 'unknown');
    st.root.querySelector('#cluster-foot').textContent = d.nc && d.nc.movesPerSecCap > 0
      ? 'Rebalance and drain move at most ' + d.nc.movesPerSecCap + ' connections per second across the cluster.' : '';
  }

  function badge(text, kind) { return el('span', {class: 'badge ' + (kind || ''), text: text}); }

  function fillRow(tr, m, avg, max, legacy) {
    var nc = m.nc || {}, state = memberState(m);
    var conns = m.sdkConCount === null || m.sdkConCount === undefined ? null : num(m.sdkConCount, null);
    var td = function (c) { return tr.querySelector('td.' + c); };
    tr.className = state === 'UP' && !m.missing ? '' : 'down';
    tr.setAttribute('data-state', state);
    tr.setAttribute('data-draining', nc.draining ? 'true' : 'false');
    td('addr').textContent = m.address;
    var s = td('state');
    s.textContent = '';
    if (!m.missing || state !== 'UP') s.appendChild(badge(state, state === 'UP' ? 'ok' : state === 'DOWN' ? 'bad' : 'warn'));
    if (nc.draining) { s.appendChild(document.createTextNode(' ')); s.appendChild(badge('draining', 'warn')); }
    if (m.missing) { s.appendChild(document.createTextNode(' ')); s.appendChild(badge('no answer', 'bad')); }
    tr.setAttribute('data-missing', m.missing ? 'true' : 'false');
    if (nc.ready === false && state === 'UP') { s.appendChild(document.createTextNode(' ')); s.appendChild(badge('not ready', 'warn')); }
    /* its own rebalance mode, when the members disagree */
    if (nc.rebalance && st.data.nc && st.data.nc.rebalance === 'mixed') {
      s.appendChild(document.createTextNode(' '));
      s.appendChild(badge('rebalance ' + (nc.rebalance === 'auto' ? 'on' : 'off'), nc.rebalance === 'auto' ? 'info' : ''));
    }
    var c = td('conns');
    c.textContent = '';
    if (conns === null) c.textContent = '–';
    else {
      c.appendChild(el('div', {class: 'count', text: String(conns)}));
      var fill = el('i');
      fill.style.width = (max ? Math.round(100 * conns / max) : 0) + '%'; /* CSSOM: the CSP allows no style attributes */
      c.appendChild(el('div', {class: 'bar'}, [fill]));
    }
    var diff = state !== 'UP' || m.missing || conns === null ? null : nc.diff !== undefined ? num(nc.diff, 0) : conns - avg;
    var dt = td('diff');
    dt.textContent = diff === null ? '–' : signed(diff);
    dt.className = 'num diff' + (diff > 0 ? ' pos' : diff < 0 ? ' neg' : '');
    var ld = td('load');
    ld.textContent = m.load !== undefined ? Number(m.load).toFixed(2) : '–';
    if (m.cpu !== undefined) ld.appendChild(el('div', {class: 'sub', text: Math.round(100 * num(m.cpu, 0)) + '% cpu'}));
    td('mem').textContent = fmtBytes(nc.memoryBytes);
    var lim = td('limit');
    lim.textContent = '';
    if (nc.limit === undefined) lim.textContent = '–';
    else if (nc.limit < 0) lim.appendChild(el('span', {class: 'muted', text: 'none'}));
    else {
      lim.appendChild(document.createTextNode(String(nc.limit) + ' '));
      lim.appendChild(badge(nc.limitPersistent ? 'persistent' : 'temporary', nc.limitPersistent ? 'info' : ''));
    }
    td('moves').textContent = nc.movesOut !== undefined ? String(nc.movesOut) : '–';
    var down = state === 'DOWN';
    tr.querySelectorAll('button').forEach(function (b) {
      var a = b.getAttribute('data-action');
      b.disabled = !!legacy || !!m.missing || (down && a !== 'undrain');
      if (a === 'drain') b.hidden = !!nc.draining;
      if (a === 'undrain') b.hidden = !nc.draining;
    });
  }

  function find(addr) { return ((st.data && st.data.detail) || []).filter(function (m) { return m.address === addr; })[0]; }

  function done(msg) { NC.toast(msg, 'ok'); refresh(); }

  function targetSelect(id, self, anyText) {
    var s = el('select', {id: id}, [el('option', {value: '', text: anyText})]);
    upMembers(self).forEach(function (a) { s.appendChild(el('option', {value: a, text: a})); });
    return s;
  }

  function onRowAction(ev) {
    var b = ev.target.closest('button[data-action]');
    if (!b || b.disabled) return;
    var addr = b.getAttribute('data-addr'), m = find(addr) || {nc: {}}, nc = m.nc || {};
    var a = b.getAttribute('data-action');
    if (a === 'limit') {
      var inp = el('input', {id: 'dlg-count', type: 'number', min: '-1', step: '1', placeholder: 'no limit',
                             value: nc.limit >= 0 ? String(nc.limit) : ''});
      var per = el('input', {id: 'dlg-persistent', type: 'checkbox'});
      if (nc.limitPersistent) per.checked = true;
      NC.dialog({title: 'Connection limit of ' + addr, ok: 'Set limit', body: el('div', {}, [
        el('p', {text: 'At the limit the member refuses new SDK connections; clients try another member. Connections it has stay. Empty or −1: no limit.'}),
        el('label', {}, ['Maximum SDK connections', inp]),
        el('label', {class: 'check'}, [per, 'Persistent (kept across restarts)'])]),
        onOk: function () {
          var v = inp.value.trim(), n = v === '' ? -1 : Number(v);
          if (!/^-?\d*$/.test(v) || n < -1) throw new Error('The limit is a whole number ≥ 0, or empty for no limit.');
          return NC.api('POST', L + 'limit', {address: addr, count: n, persistent: per.checked ? 'true' : 'false'})
            .then(function () { done(n < 0 ? 'Limit of ' + addr + ' removed' : 'Limit of ' + addr + ' set to ' + n + (per.checked ? ' (persistent)' : ' (until restart)')); });
        }});
    } else if (a === 'reload') {
      var cnt = el('input', {id: 'dlg-count', type: 'number', min: '0', step: '1',
                             value: String(Math.min(num(m.sdkConCount, 0), num(st.data.avg, 0)))});
      var tgt = targetSelect('dlg-target', addr, 'Any member (the client chooses)');
      NC.dialog({title: 'Reload ' + addr, ok: 'Reload', danger: true, body: el('div', {}, [
        el('p', {text: addr + ' has ' + num(m.sdkConCount, 0) + ' SDK connections. It sends a reset to connections above the count; those clients reconnect elsewhere.'}),
        el('label', {}, ['Keep this many connections', cnt]),
        el('label', {}, ['Send them to', tgt])]),
        onOk: function () {
          var n = Number(cnt.value);
          if (cnt.value.trim() === '' || !/^\d+$/.test(cnt.value.trim())) throw new Error('The count is a whole number ≥ 0.');
          return NC.api('POST', L + 'reloadCurrent', {address: addr, count: n, redirectAddress: tgt.value})
            .then(function () { done(addr + ' reloads down to ' + n + ' connections' + (tgt.value ? ' → ' + tgt.value : '')); });
        }});
    } else if (a === 'drain') {
      NC.dialog({title: 'Drain ' + addr + '?', ok: 'Drain', danger: true, body: el('div', {}, [
        el('p', {text: 'Every connection of ' + addr + ' (' + num(m.sdkConCount, 0) + ') is moved to other members at a bounded rate, and it takes no new ones until undrained. Use it before a planned restart.'})]),
        onOk: function () {
          return NC.api('POST', L + 'drain', {address: addr}).then(function () { done(addr + ' is draining'); });
        }});
    } else if (a === 'undrain') {
      NC.api('POST', L + 'undrain', {address: addr}).then(function () { done(addr + ' takes connections again'); },
                                                            function (e) { if (!e.auth) NC.toast('Undrain failed: ' + e.message, 'error'); });
    } else if (a === 'clients') {
      clientsDialog(addr);
    }
  }

  function connRows(data) {
    var list = [];
    for (var id in data || {}) {
      var c = data[id] || {}, mi = c.metaInfo || {};
      if (mi.clusterSource || mi.sdkSource === false) continue;
      list.push({id: mi.connectionId || id, ip: mi.clientIp || '', ver: mi.version || '', app: mi.appName || '',
                 since: String(mi.createTime || '').replace('T', ' ').replace(/\.\d+.*$/, '')});
    }
    list.sort(function (a, b) { return a.id < b.id ? -1 : 1; });
    return list;
  }

  function clientsDialog(addr) {
    var wrap = el('div', {class: 'conn-wrap'}, [el('div', {class: 'empty'}, [el('span', {class: 'spinner'}), ' Loading connections…'])]);
    var tgt = targetSelect('dlg-target', addr, 'Any member (the client chooses)');
    var picked = null;
    NC.dialog({title: 'Clients of ' + addr, ok: 'Move client', danger: true, wide: true, body: el('div', {}, [
      el('p', {text: 'Pick one SDK connection and where it should go; it gets a reset and reconnects there.'}),
      wrap, el('label', {}, ['Move it to', tgt])]),
      onOk: function () {
        if (!picked) throw new Error('Pick a connection first.');
        return NC.api('POST', L + 'reloadClient', {address: addr, connectionId: picked, redirectAddress: tgt.value})
          .then(function () { done('Client ' + picked + ' moved' + (tgt.value ? ' to ' + tgt.value : '')); });
      }});
    NC.api('GET', L + 'current', {address: addr}).then(function (data) {
      var rows = connRows(data);
      wrap.textContent = '';
      if (!rows.length) { wrap.appendChild(el('div', {class: 'empty', text: 'No SDK connections on ' + addr + '.'})); return; }
      var tb = el('tbody', {id: 'conn-list'});
      rows.forEach(function (r) {
        var radio = el('input', {type: 'radio', name: 'conn', value: r.id});
        var tr = el('tr', {'data-conn': r.id}, [el('td', {}, [radio]), el('td', {class: 'mono', text: r.id}),
          el('td', {text: r.ip}), el('td', {text: r.ver}), el('td', {text: r.app}), el('td', {class: 'muted', text: r.since})]);
        tr.addEventListener('click', function () {
          radio.checked = true;
          picked = r.id;
          tb.querySelectorAll('tr').forEach(function (x) { x.classList.toggle('sel', x === tr); });
        });
        tb.appendChild(tr);
      });
      wrap.appendChild(el('table', {}, [el('thead', {}, [el('tr', {}, [el('th', {}), el('th', {text: 'Connection'}),
        el('th', {text: 'Client IP'}), el('th', {text: 'SDK'}), el('th', {text: 'App'}), el('th', {text: 'Since'})])]), tb]));
    }, function (e) {
      wrap.textContent = '';
      if (!e.auth) wrap.appendChild(el('div', {class: 'msg error', text: 'Could not list connections: ' + e.message}));
    });
  }

  /* One smartReloadCluster (nacos-cluster.md §5.4): each member more than
   * factor above the average resets some clients towards one below. */
  function onBalance() {
    if (!st || !st.data || st.data.legacy) return;
    var f = el('input', {id: 'dlg-factor', type: 'number', min: '0', max: '1', step: '0.05', value: '0.1'});
    NC.dialog({title: 'Balance the cluster once?', ok: 'Balance', danger: true, body: el('div', {}, [
      el('p', {text: 'Members more than the factor above the average (' + num(st.data.avg, 0) +
                     ') reset up to 10 % of their clients towards members below it.'}),
      el('label', {}, ['Factor (0.1 = 10 % around the average)', f])]),
      onOk: function () {
        var v = Number(f.value);
        if (f.value.trim() === '' || !(v >= 0 && v < 1)) throw new Error('The factor is a number from 0 to below 1.');
        return NC.api('POST', L + 'smartReloadCluster', {loaderFactor: String(v)})
          .then(function () { done('Balancing: members above the average shed connections'); });
      }});
  }

  function onSwitch() {
    if (!st || !st.data || !st.data.nc) return;
    var on = st.data.nc.rebalance !== 'auto';
    function go() {
      return NC.api('POST', L + 'rebalance', {enabled: on ? 'true' : 'false'})
        .then(function () { done('Automatic rebalance ' + (on ? 'on' : 'off') + ' on every member'); });
    }
    if (!on) { go().catch(function (e) { if (!e.auth) NC.toast('Could not switch rebalance off: ' + e.message, 'error'); }); return; }
    NC.dialog({title: 'Turn automatic rebalance on?', ok: 'Turn on', body: el('div', {}, [
      el('p', {text: 'Every member above the average by more than the threshold starts moving connections to members below it, at a bounded rate.'})]),
      onOk: go});
  }

  NC.page('cluster', {title: 'Cluster', order: 50, mount: mount, unmount: unmount});
})();

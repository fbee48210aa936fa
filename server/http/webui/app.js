/* nacos-c console: the shell every page plugs into (no framework).
 *
 * NC.page(id, {title, mount(el), unmount()}) registers a page; the nav
 * lists every page, in order, and #/<id> shows it. NC.api() calls nacosd
 * with the token; NC.dialog() and NC.toast() are the shared widgets.
 * The token lives in sessionStorage (one tab, gone with it); a 401/403
 * for the token sends the user back to the login form with the reason. */
(function () {
  'use strict';
  var TOKEN = 'nc.token', USER = 'nc.user', NOTE = 'nc.loginNote';
  var pages = [], current = null, env = {auth: true, version: ''};

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'class') e.className = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) e.setAttribute(k, attrs[k]);
    }
    (kids || []).forEach(function (c) { if (c) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function token() { return sessionStorage.getItem(TOKEN) || ''; }

  /* An error the caller shows; auth=true when it ended the session. */
  function ApiError(msg, status, auth) { this.message = msg; this.status = status; this.auth = !!auth; }
  ApiError.prototype = Object.create(Error.prototype);

  function qs(params) {
    var out = [];
    for (var k in params || {})
      if (params[k] !== undefined && params[k] !== null && params[k] !== '')
        out.push(encodeURIComponent(k) + '=' + encodeURIComponent(params[k]));
    return out.join('&');
  }

  /* GET and DELETE params go in the query, POST and PUT params in a form
   * body; how.raw: a successful answer's text as sent. Resolves with
   * the v3 Result's data (or the raw text/JSON of a v1/v2 answer). */
  function api(method, path, params, how) {
    /* a node that accepts but never answers must not stall the refresh */
    var ctl = new AbortController(), timer = setTimeout(function () { ctl.abort(); }, 10000);
    var opts = {method: method, headers: {}, cache: 'no-store', signal: ctl.signal};
    var q = qs(params), url = path;
    if (token()) opts.headers.accessToken = token();
    if (method === 'GET' || method === 'DELETE') { if (q) url += '?' + q; }
    else { opts.body = q; opts.headers['Content-Type'] = 'application/x-www-form-urlencoded'; }
    return fetch(url, opts).then(function (res) {
      return res.text().then(function (text) {
        clearTimeout(timer);
        var body = text;
        /* raw: the caller wants the text as sent (a config's content) */
        if (!(how && how.raw && res.ok)) try { body = JSON.parse(text); } catch (e) { /* text answer */ }
        var msg = (body && typeof body === 'object' && body.message) || String(text || res.statusText).trim();
        if (body && typeof body === 'object' && typeof body.data === 'string' && body.data && body.code) msg += ': ' + body.data;
        msg = msg.replace(/^caused: ([\s\S]*?);?$/, '$1'); /* Nacos's v1 error text */
        /* a Result body is the operation's refusal (e.g. "user is not
         * permitted to change!"), not the session's */
        var refusal = body && typeof body === 'object' && 'code' in body;
        /* a valid session without the permission stays signed in */
        if (res.status === 403 && /authorization failed/.test(msg))
          throw new ApiError('Your account may not do this (' + msg + ').', res.status);
        if ((res.status === 401 || res.status === 403) && !refusal && !/redirectAddress/.test(msg)) {
          var why = 'Your session ended (' + msg + '). Please sign in again.';
          if (env.auth) logout(why);
          throw new ApiError(why, res.status, true);
        }
        if (!res.ok) throw new ApiError(msg || ('HTTP ' + res.status), res.status);
        if (body && typeof body === 'object' && 'code' in body && 'data' in body) {
          if (body.code !== 0 && body.code !== 200) throw new ApiError(body.message || ('code ' + body.code), res.status);
          return body.data;
        }
        return body;
      });
    }).catch(function (e) {
      clearTimeout(timer);
      if (e instanceof ApiError) throw e;
      throw new ApiError(e && e.name === 'AbortError' ? 'nacosd did not answer within 10 s' : 'nacosd is not reachable', 0);
    });
  }

  function toast(text, kind) {
    var t = el('div', {class: 'toast ' + (kind || ''), role: 'status', text: text});
    var box = $('toasts');
    while (box.children.length >= 3) box.firstChild.remove(); /* the newest three */
    box.appendChild(t);
    setTimeout(function () { t.remove(); }, kind === 'error' ? 8000 : 4500);
  }

  /* A modal: opts {title, body (node), ok, danger, wide, onOk()}. onOk may
   * return a promise; its rejection shows in the dialog, which stays, and
   * so does the dialog when it resolves to KEEP (a second step, e.g. a
   * review). */
  var KEEP = {keep: true};
  function dialog(opts) {
    var back = $('dlg-back'), ok = $('dlg-ok'), err = $('dlg-err');
    $('dlg-title').textContent = opts.title;
    var body = $('dlg-body');
    body.textContent = '';
    if (opts.body) body.appendChild(opts.body);
    back.querySelector('.dlg').classList.toggle('wide', !!opts.wide);
    ok.textContent = opts.ok || 'OK';
    ok.className = 'btn ' + (opts.danger ? 'danger solid' : 'primary');
    ok.disabled = false;
    err.hidden = true;
    back.hidden = false;
    var first = body.querySelector('input,select');
    (first || ok).focus();
    function close() { back.hidden = true; ok.onclick = null; $('dlg-cancel').onclick = null; document.onkeydown = null; }
    ok.onclick = function () {
      var r;
      try { r = opts.onOk ? opts.onOk() : null; } catch (e) { r = Promise.reject(e); }
      ok.disabled = true;
      Promise.resolve(r).then(function (v) {
        if (v === KEEP) ok.disabled = false;
        else close();
      }, function (e) {
        ok.disabled = false;
        if (e && e.auth) { close(); return; }
        err.textContent = (e && e.message) || String(e);
        err.hidden = false;
      });
    };
    $('dlg-cancel').onclick = close;
    document.onkeydown = function (ev) {
      if (ev.key === 'Escape') close();
      if (ev.key === 'Enter' && ev.target.tagName === 'INPUT') ok.click();
    };
  }

  function showLogin(note) {
    if (current && current.unmount) current.unmount();
    current = null;
    $('page').hidden = true;
    $('who').hidden = true;
    $('nav').hidden = true;
    $('login-view').hidden = false;
    var m = $('login-msg');
    m.textContent = note || '';
    m.hidden = !note;
    $('login-pass').value = '';
    ($('login-user').value ? $('login-pass') : $('login-user')).focus();
  }

  function logout(note) {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(USER);
    if (note) sessionStorage.setItem(NOTE, note);
    showLogin(note);
  }

  /* pages by their order (then as registered): the nav and the default */
  function ordered() {
    return pages.slice().sort(function (a, b) { return (a.order || 99) - (b.order || 99) || a.seq - b.seq; });
  }

  function renderNav(active) {
    var nav = $('nav');
    nav.textContent = '';
    ordered().forEach(function (p) {
      var a = el('a', {href: '#/' + p.id, 'data-page': p.id, text: p.title});
      if (p.soon) a.className = 'soon';
      if (p.id === active) a.className = 'active';
      nav.appendChild(a);
    });
    nav.hidden = false;
  }

  function route() {
    if (env.auth && !token()) { showLogin(sessionStorage.getItem(NOTE)); return; }
    sessionStorage.removeItem(NOTE);
    var id = (location.hash.match(/^#\/([\w-]+)/) || [])[1];
    var p = pages.filter(function (x) { return x.id === id && !x.soon; })[0] ||
            ordered().filter(function (x) { return !x.soon; })[0];
    $('login-view').hidden = true;
    $('who').hidden = !env.auth;
    $('who-name').textContent = sessionStorage.getItem(USER) || '';
    renderNav(p.id);
    if (current === p) return;
    if (current && current.unmount) current.unmount();
    current = p;
    var page = $('page');
    page.textContent = '';
    page.hidden = false;
    document.title = p.title + ' - nacos-c console';
    p.mount(page);
  }

  function login(ev) {
    ev.preventDefault();
    var btn = $('login-submit'), m = $('login-msg');
    btn.disabled = true;
    m.hidden = true;
    var body = qs({username: $('login-user').value, password: $('login-pass').value});
    fetch('/nacos/v1/auth/login', {method: 'POST', body: body, cache: 'no-store',
                                   headers: {'Content-Type': 'application/x-www-form-urlencoded'}})
      .then(function (res) {
        return res.text().then(function (text) {
          var j = null;
          try { j = JSON.parse(text); } catch (e) { /* error text */ }
          if (!res.ok || !j || !j.accessToken)
            throw new Error(res.status === 403 || res.status === 401 ? (text || 'login refused') : 'login failed: HTTP ' + res.status + ' ' + text);
          sessionStorage.setItem(TOKEN, j.accessToken);
          sessionStorage.setItem(USER, j.username || $('login-user').value);
          route();
        });
      })
      .catch(function (e) {
        m.textContent = e.message === 'Failed to fetch' ? 'nacosd is not reachable' : e.message;
        m.hidden = false;
      })
      .then(function () { btn.disabled = false; });
  }

  /* ---- builders the pages share ---- */

  /* The page's head: title, a line under it, tools on the right. */
  function head(title, sub, tools) {
    return el('div', {class: 'page-head'}, [
      el('div', {}, [el('h1', {text: title}), sub ? el('div', {class: 'muted', text: sub}) : null]),
      el('div', {class: 'tools'}, tools || [])]);
  }
  /* A table in a card: cols [{t: label, c: class}]; returns {wrap, body}. */
  function table(id, cols) {
    var body = el('tbody', {id: id});
    var tr = el('tr', {}, cols.map(function (c) { return el('th', {class: c.c || null, text: c.t}); }));
    return {wrap: el('div', {class: 'card table-wrap'}, [el('table', {}, [el('thead', {}, [tr]), body])]), body: body, n: cols.length};
  }
  /* Replaces a tbody's rows with one message row (loading, empty, error). */
  function tableMsg(t, text, kind) {
    t.body.textContent = '';
    t.body.appendChild(el('tr', {}, [el('td', {colspan: String(t.n), class: 'empty' + (kind ? ' ' + kind : '')}, [
      kind === 'loading' ? el('span', {class: 'spinner'}) : null, kind === 'loading' ? ' ' : null, text])]));
  }
  function field(label, input, hint) {
    return el('label', {}, [label, input, hint ? el('div', {class: 'muted small', text: hint}) : null]);
  }
  function btn(text, attrs) {
    var a = attrs || {};
    a.type = 'button';
    a.class = 'btn ' + (a.class || '');
    a.text = text;
    return el('button', a);
  }
  /* The namespace the pages work in ('' = public), kept for the tab. */
  function ns(v) {
    if (v !== undefined) sessionStorage.setItem('nc.ns', v);
    return sessionStorage.getItem('nc.ns') || '';
  }
  /* A <select> of every namespace (public first), on change calls
   * onChange(id); the list is read when it is built. */
  function nsSelect(onChange) {
    var sel = el('select', {id: 'ns-select', class: 'ns-select', title: 'Namespace'}, [el('option', {value: ns(), text: ns() || 'public'})]);
    api('GET', '/nacos/v1/console/namespaces').then(function (list) {
      sel.textContent = '';
      var seen = false;
      (list || []).forEach(function (n) {
        var id = n.namespace || '';
        if (id === ns()) seen = true;
        sel.appendChild(el('option', {value: id, text: (n.namespaceShowName || id || 'public') + (id ? ' (' + id + ')' : '')}));
      });
      if (!seen) ns('');
      sel.value = ns();
    }, function (e) { if (!e.auth) toast('Could not read the namespaces: ' + e.message, 'error'); });
    sel.addEventListener('change', function () { ns(sel.value); onChange(sel.value); });
    return sel;
  }
  /* Fills foot (a <p>) with "what a-b of total" and, past one page,
   * previous / next buttons that call go(pageNo). */
  function pager(foot, what, total, no, size, go) {
    var pages = Math.max(1, Math.ceil(total / size)), first = total ? (no - 1) * size + 1 : 0;
    foot.textContent = '';
    foot.classList.add('pager');
    foot.appendChild(el('span', {class: 'pager-text', text: total > size
      ? what + ' ' + first + '–' + Math.min(total, no * size) + ' of ' + total
      : total + ' ' + what}));
    if (pages < 2) return;
    var prev = btn('‹ Previous', {class: 'small', 'data-page': 'prev'}), next = btn('Next ›', {class: 'small', 'data-page': 'next'});
    prev.disabled = no <= 1;
    next.disabled = no >= pages;
    prev.onclick = function () { go(no - 1); };
    next.onclick = function () { go(no + 1); };
    foot.appendChild(prev);
    foot.appendChild(next);
  }
  function fmtTime(ms) {
    var d = new Date(Number(ms));
    return isFinite(d.getTime()) && Number(ms) > 0 ? d.toLocaleString() : '–';
  }

  window.NC = {
    head: head, table: table, tableMsg: tableMsg, field: field, btn: btn, ns: ns, nsSelect: nsSelect,
    fmtTime: fmtTime, qs: qs, pager: pager,
    el: el, api: api, toast: toast, dialog: dialog, ApiError: ApiError, KEEP: KEEP,
    env: function () { return env; },
    page: function (id, p) { p.id = id; p.seq = pages.length; pages.push(p); },
    /* the page's own hash parameters: #/<page>?k=v&... */
    hashParams: function () {
      var q = (location.hash.split('?')[1] || ''), out = {};
      q.split('&').forEach(function (kv) {
        var i = kv.indexOf('=');
        if (i > 0) out[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1));
      });
      return out;
    },
    token: token
  };

  document.addEventListener('DOMContentLoaded', function () {
    $('login-form').addEventListener('submit', login);
    $('logout').addEventListener('click', function () { logout('Signed out.'); });
    window.addEventListener('hashchange', route);
    fetch('/nacos/webui/env.json', {cache: 'no-store'})
      .then(function (r) { return r.json(); })
      .then(function (j) { env = j; }, function () { /* assume auth on */ })
      .then(route);
  });
})();

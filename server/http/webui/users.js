/* nacos-c console, the Users page (auth on; an admin's token): users,
 * roles and permissions over Nacos's auth API (/nacos/v1/auth/users,
 * /roles, /permissions, served by auth_routes.c): create a user, change a
 * password, delete, bind a role to a user (and unbind), grant a role a
 * permission on a resource ("<namespace>:<group>:<naming|config>/<name>",
 * '*' for any) and revoke it. With auth off there are no users: the page
 * says so. */
(function () {
  'use strict';
  var el = NC.el, A = '/nacos/v1/auth/';
  var st = null;

  function mount(root) {
    st = {root: root};
    root.appendChild(NC.head('Users and roles', 'Accounts, the roles bound to them and what each role may do.', [
      NC.btn('Create user', {id: 'user-create', class: 'primary'}), NC.btn('Bind role', {id: 'role-bind'}),
      NC.btn('Grant permission', {id: 'perm-grant'}), NC.btn('Refresh', {id: 'users-refresh'})]));
    if (!NC.env().auth) {
      root.appendChild(el('div', {class: 'msg info', id: 'users-off',
        text: 'This nacosd runs with --auth off: there are no users, and every request is allowed.'}));
      root.querySelector('.tools').hidden = true;
      return;
    }
    st.tu = NC.table('user-rows', [{t: 'User'}, {t: 'Roles'}, {t: 'Actions', c: 'num'}]);
    st.tp = NC.table('perm-rows', [{t: 'Role'}, {t: 'Resource'}, {t: 'Action'}, {t: 'Actions', c: 'num'}]);
    root.appendChild(st.tu.wrap);
    root.appendChild(el('h2', {class: 'gap', text: 'Permissions'}));
    root.appendChild(st.tp.wrap);
    root.querySelector('#user-create').addEventListener('click', createUser);
    root.querySelector('#role-bind').addEventListener('click', function () { bindRole(''); });
    root.querySelector('#perm-grant').addEventListener('click', function () { grant(''); });
    root.querySelector('#users-refresh').addEventListener('click', load);
    st.tu.body.addEventListener('click', onUserAction);
    st.tp.body.addEventListener('click', onPermAction);
    load();
  }
  function unmount() { st = null; }

  function page(what, extra) {
    var p = {pageNo: 1, pageSize: 1000, search: 'accurate'};
    for (var k in extra || {}) p[k] = extra[k];
    return NC.api('GET', A + what, p).then(function (j) { return (j && j.pageItems) || []; });
  }

  function load() {
    var my = st;
    NC.tableMsg(st.tu, 'Loading the users…', 'loading');
    NC.tableMsg(st.tp, 'Loading the permissions…', 'loading');
    Promise.all([page('users'), page('roles'), page('permissions')]).then(function (r) {
      if (st !== my) return;
      var roles = {};
      r[1].forEach(function (x) { (roles[x.username] = roles[x.username] || []).push(x.role); });
      st.roles = r[1];
      st.tu.body.textContent = '';
      r[0].forEach(function (u) {
        var mine = (roles[u.username] || []).sort();
        st.tu.body.appendChild(el('tr', {'data-user': u.username}, [
          el('td', {}, [el('b', {text: u.username})]),
          el('td', {class: 'roles'}, mine.length ? mine.map(function (ro) {
            return el('span', {class: 'badge ' + (ro === 'ROLE_ADMIN' ? 'warn' : 'info'), 'data-role': ro, title: 'Click to unbind', text: ro});
          }) : [el('span', {class: 'muted', text: 'no role'})]),
          el('td', {class: 'actions'}, [NC.btn('Bind role', {class: 'small', 'data-action': 'bind'}),
            NC.btn('Password', {class: 'small', 'data-action': 'password'}),
            NC.btn('Delete', {class: 'small danger', 'data-action': 'delete'})])]));
      });
      st.perms = r[2];
      st.tp.body.textContent = '';
      if (!r[2].length) NC.tableMsg(st.tp, 'No permission granted yet (admins may do everything).');
      r[2].forEach(function (p, i) {
        st.tp.body.appendChild(el('tr', {'data-i': String(i)}, [el('td', {text: p.role}), el('td', {class: 'mono', text: p.resource}),
          el('td', {}, [el('span', {class: 'badge', text: p.action})]),
          el('td', {class: 'actions'}, [NC.btn('Grant more', {class: 'small', 'data-action': 'grant'}),
                                        NC.btn('Revoke', {class: 'small danger', 'data-action': 'revoke'})])]));
      });
    }, function (e) { if (st === my && !e.auth) NC.tableMsg(st.tu, 'Could not read the users: ' + e.message, 'error'); });
  }

  function done(text) { return function () { NC.toast(text, 'ok'); load(); }; }

  function password(id) { return el('input', {id: id, type: 'password', autocomplete: 'new-password'}); }
  function checkPw(a, b) {
    if (a.value.length < 8) return 'The password needs at least 8 characters.';
    if (a.value !== b.value) return 'The two passwords differ.';
    return '';
  }

  function createUser() {
    var u = el('input', {id: 'new-user', autocomplete: 'off'}), p = password('new-pass'), p2 = password('new-pass2');
    NC.dialog({title: 'Create user', ok: 'Create', body: el('div', {}, [NC.field('User name', u), NC.field('Password', p),
                                                                        NC.field('Password again', p2)]),
      onOk: function () {
        var why = !u.value.trim() ? 'The user name is required.' : checkPw(p, p2);
        if (why) return Promise.reject(new Error(why));
        return NC.api('POST', A + 'users', {username: u.value.trim(), password: p.value}).then(done('Created user ' + u.value.trim()));
      }});
  }

  function setPassword(user) {
    var p = password('chg-pass'), p2 = password('chg-pass2');
    NC.dialog({title: 'New password for ' + user, ok: 'Change', body: el('div', {}, [NC.field('New password', p), NC.field('Again', p2)]),
      onOk: function () {
        var why = checkPw(p, p2);
        if (why) return Promise.reject(new Error(why));
        return NC.api('PUT', A + 'users', {username: user, newPassword: p.value}).then(done('Changed the password of ' + user));
      }});
  }

  function bindRole(user) {
    var u = el('input', {id: 'bind-user', value: user}), r = el('input', {id: 'bind-role', placeholder: 'e.g. ROLE_DEV', list: 'role-names'});
    var names = el('datalist', {id: 'role-names'});
    (st.roles || []).map(function (x) { return x.role; }).filter(function (x, i, a) { return a.indexOf(x) === i; })
      .forEach(function (x) { names.appendChild(el('option', {value: x})); });
    if (user) u.disabled = true;
    NC.dialog({title: 'Bind a role', ok: 'Bind', body: el('div', {}, [NC.field('User', u), NC.field('Role', r, 'A new role name creates the role.'), names]),
      onOk: function () {
        if (!u.value.trim() || !r.value.trim()) return Promise.reject(new Error('User and role are required.'));
        return NC.api('POST', A + 'roles', {username: u.value.trim(), role: r.value.trim()}).then(done('Bound ' + r.value.trim() + ' to ' + u.value.trim()));
      }});
  }

  function grant(role) {
    var r = el('input', {id: 'perm-role', value: role});
    var ns = el('input', {id: 'perm-ns', value: NC.ns() || 'public'}), g = el('input', {id: 'perm-group', value: '*'});
    var kind = el('select', {id: 'perm-kind'}, [el('option', {value: 'config', text: 'config'}), el('option', {value: 'naming', text: 'naming'})]);
    var name = el('input', {id: 'perm-name', value: '*'});
    var act = el('select', {id: 'perm-action'}, [el('option', {value: 'r', text: 'read (r)'}), el('option', {value: 'w', text: 'write (w)'}),
                                                 el('option', {value: 'rw', text: 'read and write (rw)'})]);
    NC.dialog({title: 'Grant a permission', ok: 'Grant', body: el('div', {}, [NC.field('Role', r),
      el('div', {class: 'row2'}, [NC.field('Namespace', ns), NC.field('Group', g)]),
      el('div', {class: 'row2'}, [NC.field('Kind', kind), NC.field('Name', name)]), NC.field('Action', act)]),
      onOk: function () {
        if (!r.value.trim() || !ns.value.trim() || !g.value.trim() || !name.value.trim())
          return Promise.reject(new Error('Role, namespace, group and name are required (* for any).'));
        var res = ns.value.trim() + ':' + g.value.trim() + ':' + kind.value + '/' + name.value.trim();
        return NC.api('POST', A + 'permissions', {role: r.value.trim(), resource: res, action: act.value})
          .then(done('Granted ' + r.value.trim() + ' ' + act.value + ' on ' + res));
      }});
  }

  function confirm(title, text, fn) {
    NC.dialog({title: title, ok: 'Yes', danger: true, body: el('div', {}, [el('p', {text: text})]), onOk: fn});
  }

  function onUserAction(ev) {
    var tr = ev.target.closest('tr[data-user]');
    if (!tr) return;
    var user = tr.getAttribute('data-user'), b = ev.target.closest('button[data-action]'), badge = ev.target.closest('[data-role]');
    if (badge) {
      var role = badge.getAttribute('data-role');
      confirm('Unbind ' + role + '?', 'User ' + user + ' loses what ' + role + ' grants.', function () {
        return NC.api('DELETE', A + 'roles', {username: user, role: role}).then(done('Unbound ' + role + ' from ' + user));
      });
      return;
    }
    if (!b) return;
    var a = b.getAttribute('data-action');
    if (a === 'bind') bindRole(user);
    else if (a === 'password') setPassword(user);
    else confirm('Delete user ' + user + '?', 'Its tokens stop working at once; its role bindings go with it.', function () {
      return NC.api('DELETE', A + 'users', {username: user}).then(done('Deleted user ' + user));
    });
  }

  function onPermAction(ev) {
    var b = ev.target.closest('button[data-action]');
    if (!b) return;
    var p = st.perms[Number(b.closest('tr').getAttribute('data-i'))];
    if (b.getAttribute('data-action') === 'grant') { grant(p.role); return; }
    confirm('Revoke this permission?', p.role + ' loses ' + p.action + ' on ' + p.resource + '.', function () {
      return NC.api('DELETE', A + 'permissions', {role: p.role, resource: p.resource, action: p.action}).then(done('Revoked'));
    });
  }

  NC.page('users', {title: 'Users', order: 40, mount: mount, unmount: unmount});
})();

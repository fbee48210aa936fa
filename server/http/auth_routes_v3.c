/* auth_routes_v3: Nacos 3.x's /nacos/v3/auth/{user,role,permission} paths
 * (UserControllerV3, RoleControllerV3, PermissionControllerV3) over the same
 * nc_auth calls as the v1 routes in auth_routes.c. See auth_routes.h.
 *
 * Answers are the Result envelope: success {code 0, "success", data}; a
 * missing parameter 400 {10000, "parameter missing", "Required parameter
 * 'X' type T is not present"}; what Nacos throws as IllegalArgumentException
 * (a duplicate user, an unknown user for a role, ...) 400 {20002, "parameter
 * validate error", Nacos's text}. The login answers as v1 (Nacos's v3 login
 * returns the same object, not a Result). Loop thread only. */
#include "auth_routes.h"

#include "nc_err.h"
#include "nc_log.h"
#include "oapi_result.h"
#include "srv_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ALL_ROWS = 999999 }; /* one page holding every row (nc_auth caps below 1e6) */

static void ok_str(nc_http_req *r, const char *s) { nc_oapi_ok_json(r, 1, cJSON_CreateString(s)); }

static void bad(nc_http_req *r, const char *msg) {
  nc_oapi_fail(r, 1, 400, NC_OAPI_PARAM_VALIDATE, msg);
}

/* The required parameter name, or NULL after answering 400 (10000). */
static const char *need(nc_http_req *r, const char *name) {
  const char *v = nc_oapi_param(r, name);
  if (!v) {
    char msg[160];
    snprintf(msg, sizeof(msg), "Required parameter '%s' type String is not present", name);
    nc_oapi_fail(r, 1, 400, NC_OAPI_PARAM_MISSING, msg);
  }
  return v;
}

static const char *opt(nc_http_req *r, const char *name) {
  const char *v = nc_oapi_param(r, name);
  return v ? v : "";
}

/* A required int (pageNo, pageSize) into *out: 0, or -1 answered 400. */
static int need_int(nc_http_req *r, const char *name, int *out) {
  const char *v = nc_oapi_param(r, name);
  char msg[160], *end = NULL;
  if (!v) {
    snprintf(msg, sizeof(msg), "Required parameter '%s' type int is not present", name);
    nc_oapi_fail(r, 1, 400, NC_OAPI_PARAM_MISSING, msg);
    return -1;
  }
  long n = strtol(v, &end, 10);
  if (*end || n < 1 || n > ALL_ROWS) {
    snprintf(msg, sizeof(msg), "'%s' must be an integer from 1 to %d", name, ALL_ROWS);
    bad(r, msg);
    return -1;
  }
  *out = (int)n;
  return 0;
}

/* 1 when item's field matches want: "" matches all; blur = substring. */
static int match(const cJSON *item, const char *field, const char *want, int blur) {
  const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(item, field));
  if (!*want)
    return 1;
  if (!v)
    return 0;
  return blur ? strstr(v, want) != NULL : !strcmp(v, want);
}

/* Nacos's Page of all's rows matching (f1, v1) and (f2, v2); takes all. */
static cJSON *page_of(cJSON *all, const char *f1, const char *v1, const char *f2, const char *v2,
                      int blur, int page_no, int size) {
  cJSON *items = cJSON_GetObjectItemCaseSensitive(all, "pageItems"), *it = NULL;
  cJSON *out = cJSON_CreateObject(), *keep = cJSON_CreateArray();
  long total = 0, first = (long)(page_no - 1) * size;
  if (!all || !out || !keep)
    goto fail;
  cJSON_ArrayForEach(it, items) {
    if (!match(it, f1, v1, blur) || (f2 && !match(it, f2, v2, blur)))
      continue;
    if (total >= first && total < first + size) {
      cJSON *c = cJSON_Duplicate(it, 1);
      if (!c)
        goto fail;
      cJSON_AddItemToArray(keep, c);
    }
    total++;
  }
  cJSON_AddNumberToObject(out, "totalCount", (double)total);
  cJSON_AddNumberToObject(out, "pageNumber", page_no);
  cJSON_AddNumberToObject(out, "pagesAvailable", (double)((total + size - 1) / size));
  cJSON_AddItemToObject(out, "pageItems", keep);
  cJSON_Delete(all);
  return out;
fail:
  cJSON_Delete(all);
  cJSON_Delete(out);
  cJSON_Delete(keep);
  return NULL;
}

/* Distinct values of field among all's rows containing want; takes all. */
static cJSON *names_of(cJSON *all, const char *field, const char *want) {
  cJSON *items = cJSON_GetObjectItemCaseSensitive(all, "pageItems"), *it = NULL;
  cJSON *out = cJSON_CreateArray();
  if (!all || !out)
    goto fail;
  cJSON_ArrayForEach(it, items) {
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, field));
    int dup = 0;
    const cJSON *o = NULL;
    if (!v || !strstr(v, want))
      continue;
    cJSON_ArrayForEach(o, out) dup |= !strcmp(o->valuestring, v);
    if (!dup && !cJSON_AddItemToArray(out, cJSON_CreateString(v)))
      goto fail;
  }
  cJSON_Delete(all);
  return out;
fail:
  cJSON_Delete(all);
  cJSON_Delete(out);
  return NULL;
}

/* 1 when one of all's rows has field == val (0 on OOM); takes all. */
static int has_row(cJSON *all, const char *field, const char *val) {
  cJSON *p = page_of(all, field, val, NULL, NULL, 0, 1, 1);
  cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "totalCount");
  int yes = cJSON_IsNumber(n) && n->valuedouble > 0;
  cJSON_Delete(p);
  return yes;
}

static int is_blur(nc_http_req *r) { return !strcmp(opt(r, "search"), "blur"); }

/* ---- users ---- */

static void h_user(void *ud, nc_http_req *r) {
  nc_auth *a = ud;
  const char *m = nc_http_method(r), *u = need(r, "username");
  char msg[256], me[NC_AUTH_USER_MAX];
  int rc;
  if (!u)
    return;
  if (!strcmp(m, "POST")) {
    const char *pw = need(r, "password");
    if (!pw)
      return;
    rc = nc_auth_user_create(a, u, pw);
    snprintf(msg, sizeof(msg), "user '%s' already exist!", u);
  } else if (!strcmp(m, "PUT")) {
    const char *pw = need(r, "newPassword");
    if (!pw)
      return;
    /* the admin, or the user itself (Nacos's ONLY_IDENTITY check) */
    if (nc_auth_enabled(a) &&
        (nc_auth_identify(a, nc_auth_http_token(r), me) != NC_AUTH_OK ||
         (!nc_auth_is_admin(a, me) && strcmp(me, u)))) {
      const char *why = nc_auth_result_msg(NC_AUTH_FORBIDDEN);
      nc_http_reply(r, 403, "text/plain", why, strlen(why));
      return;
    }
    rc = nc_auth_user_set_password(a, u, pw);
    snprintf(msg, sizeof(msg), "user %s not exist!", u);
    if (rc == 0) {
      ok_str(r, "update user ok!");
      return;
    }
  } else {
    rc = nc_auth_user_delete(a, u);
    if (rc == 0 || rc == NC_ENOTFOUND) { /* Nacos: silent when absent */
      ok_str(r, "delete user ok!");
      return;
    }
    snprintf(msg, sizeof(msg), "cannot delete admin: %s", u);
  }
  if (rc == 0)
    ok_str(r, "create user ok!");
  else if (rc == NC_EEXISTS || rc == NC_ENOTFOUND || rc == NC_EPERM)
    bad(r, msg);
  else if (rc == NC_EINVAL)
    bad(r, "invalid username or password");
  else
    nc_oapi_fail(r, 1, 500, NC_OAPI_SERVER, nc_strerror(rc));
}

static void h_user_list(void *ud, nc_http_req *r) {
  int pn, ps;
  if (need_int(r, "pageNo", &pn) || need_int(r, "pageSize", &ps))
    return;
  cJSON *all = nc_auth_users_page(ud, NULL, 1, ALL_ROWS);
  nc_oapi_ok_json(r, 1, page_of(all, "username", opt(r, "username"), NULL, NULL, is_blur(r), pn, ps));
}

static void h_user_search(void *ud, nc_http_req *r) {
  const char *u = need(r, "username");
  if (u)
    nc_oapi_ok_json(r, 1, names_of(nc_auth_users_page(ud, NULL, 1, ALL_ROWS), "username", u));
}

/* POST /v3/auth/user/admin: the admin's first password (random when none
 * is given), returned once as {"username","password"}; loopback only. */
static void h_admin(void *ud, nc_http_req *r) {
  const char *pw = nc_oapi_param(r, "password");
  char gen[24];
  if (!nc_auth_http_loopback(r)) {
    static const char why[] = "the admin password can be set this way only from the server's host";
    nc_http_reply(r, 403, "text/plain", why, sizeof(why) - 1);
    return;
  }
  if (!pw) {
    static const char cs[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    unsigned char rnd[16];
    if (uv_random(NULL, NULL, rnd, sizeof(rnd), 0, NULL) != 0) {
      nc_oapi_fail(r, 1, 500, NC_OAPI_SERVER, "no random source");
      return;
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
      gen[i] = cs[rnd[i] % (sizeof(cs) - 1)];
    memcpy(gen + 16, "-A1z", 5); /* one of each class for the strength check */
    pw = gen;
  }
  int rc = nc_auth_admin_init(ud, pw);
  if (rc == NC_ESTATE) { /* Nacos: Result.failure(409, ...), HTTP 200 */
    cJSON *o = cJSON_CreateObject();
    if (o) {
      cJSON_AddNumberToObject(o, "code", 409);
      cJSON_AddStringToObject(o, "message", "have admin user cannot use it.");
    }
    char *s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (s)
      nc_http_reply(r, 200, "application/json", s, strlen(s));
    else
      nc_http_reply_error(r, 500, "out of memory");
    free(s);
    return;
  }
  if (rc) {
    nc_oapi_fail(r, 1, rc == NC_EINVAL ? 400 : 500,
                 rc == NC_EINVAL ? NC_OAPI_PARAM_VALIDATE : NC_OAPI_SERVER, nc_strerror(rc));
    return;
  }
  nc_info("auth: admin password set over HTTP (v3) from %s", nc_http_peer(r));
  cJSON *o = cJSON_CreateObject();
  if (o) {
    cJSON_AddStringToObject(o, "username", NC_AUTH_ADMIN_USER);
    cJSON_AddStringToObject(o, "password", pw);
  }
  nc_oapi_ok_json(r, 1, o);
  explicit_bzero(gen, sizeof(gen));
}

/* ---- roles ---- */

static void h_role(void *ud, nc_http_req *r) {
  const char *role = need(r, "role"), *u;
  char msg[300];
  if (!role)
    return;
  if (!strcmp(nc_http_method(r), "DELETE")) {
    u = opt(r, "username");
    int rc = nc_auth_role_delete(ud, role, *u ? u : NULL);
    if (rc == NC_EPERM || rc == NC_EINVAL) {
      snprintf(msg, sizeof(msg), "role '%s' is not permitted to delete!", role);
      bad(r, msg);
      return;
    }
    if (rc && rc != NC_ENOTFOUND) { /* Nacos: deleting what is not there is fine */
      nc_oapi_fail(r, 1, 500, NC_OAPI_SERVER, nc_strerror(rc));
      return;
    }
    snprintf(msg, sizeof(msg), "delete role of user %s ok!", u);
    ok_str(r, msg);
    return;
  }
  if (!(u = need(r, "username")))
    return;
  /* Nacos binds roles to existing users only */
  int rc = has_row(nc_auth_users_page(ud, u, 1, 1), "username", u) ? nc_auth_role_add(ud, role, u)
                                                                    : NC_ENOTFOUND;
  if (rc == 0) {
    ok_str(r, "add role ok!");
    return;
  }
  if (rc == NC_ENOTFOUND)
    snprintf(msg, sizeof(msg), "user '%s' not found!", u);
  else if (rc == NC_EPERM)
    snprintf(msg, sizeof(msg), "role '%s' is not permitted to create!", role);
  else if (rc == NC_EEXISTS)
    snprintf(msg, sizeof(msg), "user '%s' already bound to the role '%s'!", u, role);
  else if (rc == NC_EINVAL)
    snprintf(msg, sizeof(msg), "invalid role name '%s'", role);
  else {
    nc_oapi_fail(r, 1, 500, NC_OAPI_SERVER, nc_strerror(rc));
    return;
  }
  bad(r, msg);
}

static void h_role_list(void *ud, nc_http_req *r) {
  int pn, ps;
  if (need_int(r, "pageNo", &pn) || need_int(r, "pageSize", &ps))
    return;
  cJSON *all = nc_auth_roles_page(ud, NULL, 1, ALL_ROWS);
  nc_oapi_ok_json(r, 1, page_of(all, "username", opt(r, "username"), "role", opt(r, "role"),
                                is_blur(r), pn, ps));
}

static void h_role_search(void *ud, nc_http_req *r) {
  const char *role = need(r, "role");
  if (role)
    nc_oapi_ok_json(r, 1, names_of(nc_auth_roles_page(ud, NULL, 1, ALL_ROWS), "role", role));
}

/* ---- permissions ---- */

static void h_perm(void *ud, nc_http_req *r) {
  const char *m = nc_http_method(r), *role, *res, *act;
  char msg[300];
  if (!(role = need(r, "role")) || !(res = need(r, "resource")) || !(act = need(r, "action")))
    return;
  if (!strcmp(m, "GET")) { /* isDuplicatePermission: data true when the row exists */
    cJSON *all = nc_auth_perms_page(ud, role, 1, ALL_ROWS);
    cJSON *p = page_of(all, "resource", res, "action", act, 0, 1, 1);
    cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "totalCount");
    if (p)
      nc_oapi_ok_json(r, 1, cJSON_CreateBool(cJSON_IsNumber(n) && n->valuedouble > 0));
    else
      nc_oapi_fail(r, 1, 500, NC_OAPI_SERVER, "out of memory");
    cJSON_Delete(p);
    return;
  }
  int add = !strcmp(m, "POST"), rc;
  if (add && !has_row(nc_auth_roles_page(ud, NULL, 1, ALL_ROWS), "role", role))
    rc = NC_ENOTFOUND; /* Nacos: permissions only for an existing role */
  else
    rc = add ? nc_auth_perm_add(ud, role, res, act) : nc_auth_perm_delete(ud, role, res, act);
  if (rc == 0 || (!add && rc == NC_ENOTFOUND)) {
    ok_str(r, add ? "add permission ok!" : "delete permission ok!");
    return;
  }
  if (rc == NC_ENOTFOUND)
    snprintf(msg, sizeof(msg), "role %s not found!", role);
  else if (rc == NC_EEXISTS)
    snprintf(msg, sizeof(msg), "permission already exist!");
  else if (rc == NC_EINVAL || rc == NC_EPERM)
    snprintf(msg, sizeof(msg), "invalid permission: role %s, resource %s, action %s", role, res,
             act);
  else {
    nc_oapi_fail(r, 1, 500, NC_OAPI_SERVER, nc_strerror(rc));
    return;
  }
  bad(r, msg);
}

static void h_perm_list(void *ud, nc_http_req *r) {
  int pn, ps;
  if (need_int(r, "pageNo", &pn) || need_int(r, "pageSize", &ps))
    return;
  cJSON *all = nc_auth_perms_page(ud, NULL, 1, ALL_ROWS);
  nc_oapi_ok_json(r, 1, page_of(all, "role", opt(r, "role"), NULL, NULL, is_blur(r), pn, ps));
}

#define V3 "/nacos/v3/auth/"
#define ADM NC_SHTTP_ADMIN
const nc_http_route nc_auth_v3_routes[] = {
    {V3 "user/login", NC_HTTP_POST, nc_auth_http_login, NC_SHTTP_OPEN},
    {V3 "user/admin", NC_HTTP_POST, h_admin, NC_SHTTP_OPEN},
    {V3 "user", NC_HTTP_POST | NC_HTTP_DELETE, h_user, ADM},
    {V3 "user", NC_HTTP_PUT, h_user, 0}, /* the user itself may change its password */
    {V3 "user/list", NC_HTTP_GET, h_user_list, ADM},
    {V3 "user/search", NC_HTTP_GET, h_user_search, ADM},
    {V3 "role", NC_HTTP_POST | NC_HTTP_DELETE, h_role, ADM},
    {V3 "role/list", NC_HTTP_GET, h_role_list, ADM},
    {V3 "role/search", NC_HTTP_GET, h_role_search, ADM},
    {V3 "permission", NC_HTTP_POST | NC_HTTP_DELETE | NC_HTTP_GET, h_perm, ADM},
    {V3 "permission/list", NC_HTTP_GET, h_perm_list, ADM},
};
const size_t nc_auth_v3_n_routes = sizeof(nc_auth_v3_routes) / sizeof(nc_auth_v3_routes[0]);

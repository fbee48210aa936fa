/* auth_routes: see auth_routes.h. */
#include "auth_routes.h"

#include "nc_err.h"
#include "nc_log.h"
#include "srv_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* AbstractAuthenticationManager's answer for a bad user or password. */
#define BAD_LOGIN "User not found! Please check user exist or password is right!"

const char *nc_auth_http_token(nc_http_req *r) {
  const char *v = nc_http_header(r, "Authorization");
  if (v && strncmp(v, "Bearer ", 7) == 0 && v[7])
    return v + 7;
  v = nc_http_param(r, "accessToken");
  if (v && *v)
    return v;
  v = nc_http_header(r, "accessToken");
  return v && *v ? v : NULL;
}

static void reply_text(nc_http_req *r, int code, const char *s) {
  nc_http_reply(r, code, "text/plain", s, strlen(s));
}

static void reply_json(nc_http_req *r, int code, cJSON *o) {
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  if (!s) {
    reply_text(r, 500, "out of memory");
    return;
  }
  nc_http_reply(r, code, "application/json", s, strlen(s));
  free(s);
}

/* Nacos's RestResult {"code","message"} (Nacos adds "data":null). */
static void reply_result(nc_http_req *r, int code, const char *msg) {
  cJSON *o = cJSON_CreateObject();
  if (o) {
    cJSON_AddNumberToObject(o, "code", code);
    cJSON_AddStringToObject(o, "message", msg); /* no data: never JSON null */
  }
  reply_json(r, code, o);
}

/* ---- login ---- */

typedef struct pending_login {
  nc_http_req *r; /* NULL once the server dropped the request */
  nc_auth *a;
} pending_login;

static void login_abort(void *ud, nc_http_req *r) {
  pending_login *p = ud;
  (void)r;
  p->r = NULL;
}

static void login_done(void *ud, int rc, const char *user, const char *token, int admin) {
  pending_login *p = ud;
  nc_http_req *r = p->r;
  nc_auth *a = p->a;
  free(p);
  if (rc == 0)
    nc_info("auth: %s logged in%s", NC_LOG_ESC(user), admin ? " (admin)" : "");
  else
    nc_warn("auth: login of %s refused: %s", NC_LOG_ESC(user),
            rc == NC_ESTATE ? "admin password not set" : "bad user or password");
  if (!r)
    return;
  if (rc == NC_ESTATE) {
    reply_text(r, 403, "login disabled: the admin (nacos) has no password yet; start nacosd "
                       "with --admin-password-file FILE or POST /nacos/v1/auth/users/admin from "
                       "the server's host");
    return;
  }
  if (rc) {
    reply_text(r, 403, BAD_LOGIN);
    return;
  }
  cJSON *o = cJSON_CreateObject();
  if (o) {
    cJSON_AddStringToObject(o, "accessToken", token);
    cJSON_AddNumberToObject(o, "tokenTtl", (double)nc_auth_token_ttl(a));
    cJSON_AddBoolToObject(o, "globalAdmin", admin);
    cJSON_AddStringToObject(o, "username", user);
  }
  char bearer[2048];
  snprintf(bearer, sizeof(bearer), "Bearer %s", token);
  nc_http_add_header(r, "Authorization", bearer);
  reply_json(r, 200, o);
}

void nc_auth_http_login(void *ud, nc_http_req *r) {
  pending_login *p = calloc(1, sizeof(*p));
  if (!p) {
    reply_text(r, 500, "out of memory");
    return;
  }
  p->r = r;
  p->a = ud;
  const char *u = nc_http_param(r, "username"), *pw = nc_http_param(r, "password");
  if (nc_auth_login(ud, u ? u : "", pw ? pw : "", login_done, p) != 0) {
    free(p);
    reply_text(r, 500, "out of memory");
    return;
  }
  nc_http_hold_abort(r, login_abort, p);
}

int nc_auth_http_loopback(nc_http_req *r) {
  const char *p = nc_http_peer(r);
  return p && (!strncmp(p, "127.", 4) || !strncmp(p, "[::1]", 5) || !strncmp(p, "::1", 3));
}

static void h_admin_init(void *ud, nc_http_req *r) {
  const char *pw = nc_http_param(r, "password");
  if (!nc_auth_http_loopback(r)) {
    reply_result(r, 403, "the admin password can be set this way only from the server's host");
    return;
  }
  if (!pw || !*pw) {
    reply_result(r, 400, "missing required parameter 'password'");
    return;
  }
  int rc = nc_auth_admin_init(ud, pw);
  if (rc == NC_ESTATE) {
    reply_result(r, 409, NC_AUTH_HTTP_HAVE_ADMIN);
    return;
  }
  if (rc) {
    reply_result(r, rc == NC_EINVAL ? 400 : 500, nc_strerror(rc));
    return;
  }
  nc_info("auth: admin password set over HTTP from %s", nc_http_peer(r));
  cJSON *o = cJSON_CreateObject();
  if (o)
    cJSON_AddStringToObject(o, "username", NC_AUTH_ADMIN_USER);
  reply_json(r, 200, o);
}

/* ---- management ---- */

static int page_no(nc_http_req *r, const char *name, int def) {
  const char *v = nc_http_param(r, name);
  long n = v && *v ? strtol(v, NULL, 10) : def;
  return n > 0 && n < 1000000 ? (int)n : def;
}

/* 200 ok_msg, or the error's status and text. */
static void reply_rc(nc_http_req *r, int rc, const char *ok_msg, const char *what) {
  char msg[256];
  int code = 200;
  switch (rc) {
  case 0:
    reply_result(r, 200, ok_msg);
    return;
  case NC_EEXISTS:
    code = 400;
    snprintf(msg, sizeof(msg), "%s already exist!", what);
    break;
  case NC_ENOTFOUND:
    code = 404;
    snprintf(msg, sizeof(msg), "%s not found!", what);
    break;
  case NC_EPERM:
    code = 403;
    snprintf(msg, sizeof(msg), "%s is not permitted to change!", what);
    break;
  case NC_EINVAL:
    code = 400;
    snprintf(msg, sizeof(msg), "invalid parameters for %s", what);
    break;
  default:
    code = 500;
    snprintf(msg, sizeof(msg), "%s: %s", what, nc_strerror(rc));
  }
  reply_result(r, code, msg);
}

static const char *P(nc_http_req *r, const char *name) {
  const char *v = nc_http_param(r, name);
  return v ? v : "";
}

static void h_users(void *ud, nc_http_req *r) {
  const char *m = nc_http_method(r), *u = P(r, "username");
  if (!strcmp(m, "GET")) {
    reply_json(r, 200, nc_auth_users_page(ud, u, page_no(r, "pageNo", 1),
                                          page_no(r, "pageSize", 100)));
  } else if (!strcmp(m, "POST")) {
    reply_rc(r, nc_auth_user_create(ud, u, P(r, "password")), "create user ok!", "user");
  } else if (!strcmp(m, "PUT")) {
    reply_rc(r, nc_auth_user_set_password(ud, u, P(r, "newPassword")), "update user ok!", "user");
  } else {
    reply_rc(r, nc_auth_user_delete(ud, u), "delete user ok!", "user");
  }
}

static void h_roles(void *ud, nc_http_req *r) {
  const char *m = nc_http_method(r), *u = P(r, "username"), *role = P(r, "role");
  if (!strcmp(m, "GET"))
    reply_json(r, 200, nc_auth_roles_page(ud, u, page_no(r, "pageNo", 1),
                                          page_no(r, "pageSize", 100)));
  else if (!strcmp(m, "POST"))
    reply_rc(r, nc_auth_role_add(ud, role, u), "add role ok!", "role");
  else
    reply_rc(r, nc_auth_role_delete(ud, role, *u ? u : NULL), "delete role ok!", "role");
}

static void h_perms(void *ud, nc_http_req *r) {
  const char *m = nc_http_method(r), *role = P(r, "role");
  if (!strcmp(m, "GET"))
    reply_json(r, 200, nc_auth_perms_page(ud, role, page_no(r, "pageNo", 1),
                                          page_no(r, "pageSize", 100)));
  else if (!strcmp(m, "POST"))
    reply_rc(r, nc_auth_perm_add(ud, role, P(r, "resource"), P(r, "action")),
             "add permission ok!", "permission");
  else
    reply_rc(r, nc_auth_perm_delete(ud, role, P(r, "resource"), P(r, "action")),
             "delete permission ok!", "permission");
}

#define A "/nacos/v1/auth/"
#define ALL (NC_HTTP_GET | NC_HTTP_POST | NC_HTTP_PUT | NC_HTTP_DELETE)
const nc_http_route nc_auth_routes[] = {
    {A "users/login", NC_HTTP_POST, nc_auth_http_login, NC_SHTTP_OPEN},
    {A "login", NC_HTTP_POST, nc_auth_http_login, NC_SHTTP_OPEN},
    {A "users/admin", NC_HTTP_POST, h_admin_init, NC_SHTTP_OPEN},
    {A "users", ALL, h_users, NC_SHTTP_ADMIN},
    {A "roles", NC_HTTP_GET | NC_HTTP_POST | NC_HTTP_DELETE, h_roles, NC_SHTTP_ADMIN},
    {A "permissions", NC_HTTP_GET | NC_HTTP_POST | NC_HTTP_DELETE, h_perms, NC_SHTTP_ADMIN},
};
const size_t nc_auth_n_routes = sizeof(nc_auth_routes) / sizeof(nc_auth_routes[0]);

/* auth_routes: Nacos's login and user/role/permission API on the main
 * port (ud = the nc_auth):
 *   POST /nacos/v1/auth/users/login, /nacos/v1/auth/login (open)
 *   POST /nacos/v1/auth/users/admin: the admin's first password, from
 *        loopback only and only while it has none (open)
 *   GET|POST|PUT|DELETE /nacos/v1/auth/users, GET|POST|DELETE
 *        /nacos/v1/auth/roles and /nacos/v1/auth/permissions (admin)
 * Loop thread only. */
#ifndef AUTH_ROUTES_H
#define AUTH_ROUTES_H

#include "nc_auth.h"
#include "nc_http.h"

extern const nc_http_route nc_auth_routes[];
extern const size_t nc_auth_n_routes;

/* The token of an HTTP request: "Authorization: Bearer T", else the
 * accessToken parameter, else an accessToken header; NULL when none. */
const char *nc_auth_http_token(nc_http_req *r);

/* The login handler (ud = the nc_auth), v1 and v3 alike: Nacos answers
 * both with {"accessToken","tokenTtl","globalAdmin","username"} and an
 * Authorization header, a refusal 403 with its text. */
void nc_auth_http_login(void *ud, nc_http_req *r);
/* 1 when r comes from the server's own host (first admin password). */
int nc_auth_http_loopback(nc_http_req *r);
/* Nacos's refusal once the admin has a password. */
/* Nacos's text, then why (nacosctl shows it to the operator) */
#define NC_AUTH_HTTP_HAVE_ADMIN "have admin user cannot use it (the admin already has a password)"

/* The Nacos 3.x paths (auth_routes_v3.c, ud = the nc_auth), answered in
 * the Result envelope {code, message, data}:
 *   POST /nacos/v3/auth/user/login (open), POST /user/admin (open, loopback)
 *   POST|DELETE /user (admin), PUT /user (admin or the user itself),
 *   GET /user/list, /user/search; POST|DELETE /role, GET /role/list,
 *   /role/search; POST|DELETE|GET /permission, GET /permission/list (admin) */
extern const nc_http_route nc_auth_v3_routes[];
extern const size_t nc_auth_v3_n_routes;

#endif

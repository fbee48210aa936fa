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

#endif

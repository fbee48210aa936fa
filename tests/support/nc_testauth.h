/* nc_testauth: the fixture of the HTTP auth tests: one real nacosd with
 * --auth on whose admin "nacos" has the password NC_TEST_ADMIN_PW, and the
 * requests those tests make (login, a user holding one permission).
 *
 * Ownership: nc_tauth_start allocates; nc_tauth_stop stops nacosd, removes
 * the temp dir and frees. The request helpers assert (cmocka) that the
 * exchange itself happened; the status is the caller's to check. */
#ifndef NC_TESTAUTH_H
#define NC_TESTAUTH_H

#include <stddef.h>

#define NC_TEST_ADMIN_PW "Adm1n-pw"

typedef struct nc_tauth nc_tauth;

/* Starts nacosd --auth on --admin-password-file plus extra (NULL-terminated,
 * may be NULL); 0 or -1 (nacosd's log dumped). */
int nc_tauth_start(const char *const *extra, nc_tauth **out);
/* 0 when nacosd exited cleanly, else -1; NULL is fine. */
int nc_tauth_stop(nc_tauth *a);
int nc_tauth_port(const nc_tauth *a); /* the main (HTTP) port */

/* One request (form and tok may be NULL): the HTTP status; the body is
 * copied into buf (truncated to cap). */
int nc_tauth_req(nc_tauth *a, const char *method, const char *path, const char *form,
                 const char *tok, char *buf, size_t cap);
/* Logs user in (asserts 200): the accessToken, malloc'ed. */
char *nc_tauth_login(nc_tauth *a, const char *user, const char *pw);
/* Creates user with password "Pw-<user>" and role "<user>-role" holding
 * (resource, action), with the admin token adm; asserts every step. */
void nc_tauth_user(nc_tauth *a, const char *adm, const char *user, const char *resource,
                   const char *action);
/* nc_tauth_user, then that user's token (malloc'ed). */
char *nc_tauth_user_token(nc_tauth *a, const char *adm, const char *user, const char *resource,
                          const char *action);

#endif

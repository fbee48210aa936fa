/* nc_testauth: see nc_testauth.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_testauth.h"

#include "nc_testfx.h"
#include "nc_testhttp.h"
#include "nc_testproc.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_EXTRA 16

struct nc_tauth {
  char dir[256]; /* holds the admin password file */
  nc_tfx *f;
};

int nc_tauth_start(const char *const *extra, nc_tauth **out) {
  nc_tauth *a = calloc(1, sizeof(*a));
  char pw[300];
  *out = NULL;
  if (!a || nc_test_mkdtemp(a->dir, sizeof(a->dir)) != 0) {
    free(a);
    return -1;
  }
  snprintf(pw, sizeof(pw), "%s/admin.pw", a->dir);
  FILE *fp = fopen(pw, "w");
  if (!fp || fputs(NC_TEST_ADMIN_PW "\n", fp) < 0 || fclose(fp) != 0 || chmod(pw, 0600) != 0)
    goto fail;
  const char *args[4 + MAX_EXTRA + 1] = {"--auth", "on", "--admin-password-file", pw};
  size_t k = 4;
  for (size_t i = 0; extra && extra[i]; i++) {
    if (i >= MAX_EXTRA)
      goto fail;
    args[k++] = extra[i];
  }
  args[k] = NULL;
  if (nc_tfx_start(args, &a->f) != 0)
    goto fail;
  *out = a;
  return 0;
fail:
  nc_test_rmtree(a->dir);
  free(a);
  return -1;
}

int nc_tauth_stop(nc_tauth *a) {
  if (!a)
    return 0;
  int rc = nc_tfx_stop(a->f);
  nc_test_rmtree(a->dir);
  free(a);
  return rc ? -1 : 0;
}

int nc_tauth_port(const nc_tauth *a) { return a->f->srv->port; }

int nc_tauth_req(nc_tauth *a, const char *method, const char *path, const char *form,
                 const char *tok, char *buf, size_t cap) {
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(nc_tauth_port(a), method, path, form, tok, &status, &b), 0);
  snprintf(buf, cap, "%s", b ? b : "");
  free(b);
  return status;
}

char *nc_tauth_login(nc_tauth *a, const char *user, const char *pw) {
  char form[256], buf[4096];
  snprintf(form, sizeof(form), "username=%s&password=%s", user, pw);
  assert_int_equal(nc_tauth_req(a, "POST", "/nacos/v1/auth/login", form, NULL, buf, sizeof(buf)),
                   200);
  cJSON *o = cJSON_Parse(buf);
  assert_non_null(o);
  const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(o, "accessToken"));
  assert_non_null(t);
  char *tok = strdup(t);
  cJSON_Delete(o);
  assert_non_null(tok);
  return tok;
}

void nc_tauth_user(nc_tauth *a, const char *adm, const char *user, const char *resource,
                   const char *action) {
  char form[512], buf[4096];
  snprintf(form, sizeof(form), "username=%s&password=Pw-%s", user, user);
  assert_int_equal(nc_tauth_req(a, "POST", "/nacos/v1/auth/users", form, adm, buf, sizeof(buf)),
                   200);
  snprintf(form, sizeof(form), "role=%s-role&username=%s", user, user);
  assert_int_equal(nc_tauth_req(a, "POST", "/nacos/v1/auth/roles", form, adm, buf, sizeof(buf)),
                   200);
  snprintf(form, sizeof(form), "role=%s-role&resource=%s&action=%s", user, resource, action);
  assert_int_equal(
      nc_tauth_req(a, "POST", "/nacos/v1/auth/permissions", form, adm, buf, sizeof(buf)), 200);
}

char *nc_tauth_user_token(nc_tauth *a, const char *adm, const char *user, const char *resource,
                          const char *action) {
  char pw[128];
  nc_tauth_user(a, adm, user, resource, action);
  snprintf(pw, sizeof(pw), "Pw-%s", user);
  return nc_tauth_login(a, user, pw);
}

/* naming_v3_itest: what the v3 naming API tests share: a one-node
 * fixture per test, an HTTP call answering JSON with the status asserted,
 * and readers of the Result envelope and its fields that fail the test
 * when a field is missing or of another type. Include after cmocka.h. */
#ifndef NAMING_V3_ITEST_H
#define NAMING_V3_ITEST_H

#include "nc_testfx.h"
#include "nc_testhttp.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int nv3_setup(void **st) {
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(NULL, &f);
  *st = f;
  return rc ? -1 : 0;
}
static inline int nv3_teardown(void **st) { return nc_tfx_stop(*st) == 0 ? 0 : -1; }

/* method path on the node: the JSON answer (caller frees), asserting the status. */
static inline cJSON *call(nc_tfx *f, const char *method, const char *path, int want) {
  int status = 0;
  char *b = NULL;
  assert_int_equal(nc_test_http_req(f->srv->port, method, path, NULL, NULL, &status, &b), 0);
  if (status != want)
    fprintf(stderr, "%s %s: %d %s\n", method, path, status, b ? b : "");
  assert_int_equal(status, want);
  cJSON *j = cJSON_Parse(b);
  free(b);
  assert_non_null(j);
  return j;
}
static inline int code(const cJSON *j) { return cJSON_GetObjectItem(j, "code")->valueint; }
static inline const cJSON *data(const cJSON *j) { return cJSON_GetObjectItem(j, "data"); }
static inline const char *sdata(const cJSON *j) { return cJSON_GetStringValue(data(j)); }
static inline const char *str(const cJSON *o, const char *k) {
  const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
  assert_non_null(v);
  return v;
}
static inline double num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  assert_true(cJSON_IsNumber(v));
  return v->valuedouble;
}

/* The answer is an error: status, Result code, and data why (NULL: not checked). */
static inline void expect_error(nc_tfx *f, const char *method, const char *path, int status,
                                int c, const char *why) {
  cJSON *j = call(f, method, path, status);
  assert_int_equal(code(j), c);
  if (why)
    assert_string_equal(sdata(j), why);
  cJSON_Delete(j);
}

#endif

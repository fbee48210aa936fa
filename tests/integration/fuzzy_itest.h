/* fuzzy_itest: helpers of the fuzzy-watch integration tests
 * (test_fuzzy_*.c), header-only: a WATCH / CANCEL_WATCH request as the
 * Java 3.x client sends it, and a check of the newest change notification. */
#ifndef FUZZY_ITEST_H
#define FUZZY_ITEST_H

#include "nc_json.h"
#include "nc_testwire.h"

/* naming (1) or config (0) fuzzy watch request of pattern; received_json
 * is the receivedGroupKeys array as JSON (NULL: []); a naming request
 * carries namespace ns as the Java client sends it (its own namespace). */
static inline nc_tw_reply fit_watch_ns(nc_tw *tw, int naming, const char *ns, const char *pattern,
                                       const char *wtype, int initializing,
                                       const char *received_json) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "groupKeyPattern", pattern);
  cJSON_AddStringToObject(b, "watchType", wtype);
  cJSON_AddBoolToObject(b, "initializing", initializing);
  cJSON_AddItemToObject(b, "receivedGroupKeys", cJSON_Parse(received_json ? received_json : "[]"));
  cJSON_AddStringToObject(b, "module", naming ? "naming" : "config");
  if (naming)
    cJSON_AddStringToObject(b, "namespace", ns);
  cJSON_AddObjectToObject(b, "headers");
  return nc_tw_call_reply(tw, naming ? "NamingFuzzyWatchRequest" : "ConfigFuzzyWatchRequest", b);
}

/* fit_watch_ns from a client of the namespace public. */
static inline nc_tw_reply fit_watch(nc_tw *tw, int naming, const char *pattern,
                                    const char *wtype, int initializing,
                                    const char *received_json) {
  return fit_watch_ns(tw, naming, "public", pattern, wtype, initializing, received_json);
}

/* Waits (up to timeout_ms) for the want-th push of type and checks that
 * the newest one names key in kfield and change in cfield. */
static inline void fit_expect_last(nc_tw *tw, const char *type, int want, int timeout_ms,
                                   const char *kfield, const char *key, const char *cfield,
                                   const char *change) {
  assert_int_equal(nc_tw_wait_pushes(tw, type, want, timeout_ms), want);
  cJSON *b = nc_tw_push_get(tw, type, -1, NULL, 0);
  assert_non_null(b);
  assert_string_equal(nc_json_str(b, kfield, ""), key);
  assert_string_equal(nc_json_str(b, cfield, ""), change);
  cJSON_Delete(b);
}

#endif

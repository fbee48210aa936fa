/* The web console's Services page (issue 14 acceptance 4) in a real
 * headless Chromium (nc_testwd.h) against a standalone nacosd with auth
 * on and a real nacos-agent: an app registers an instance through the
 * agent and the page lists the service with its counts, then its detail
 * shows the instance and the agent's subscription; the weight edited on
 * the page reaches a subscriber (the agent's naming.changed event), for
 * an instance registered over HTTP and for the agent's own (a nacosd
 * whose PUT updates only HTTP-registered instances makes that one skip);
 * a service created, listed empty and deleted on the page.
 * The console-only endpoints behind the page (catalog services and
 * instances, service subscribers) are checked over HTTP as well,
 * including their errors. Screenshots in <build>/tests/artifacts/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "console_itest.h"
#include "nc_json.h"
#include "nc_testagent.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SVC "console-orders"
#define SVC_HTTP "console-http"

static struct {
  nc_test_agent ag;
  int ag_up;
  nc_tc *app, *sub;
} g;

#define SETUP_OK(cond, what)                                                                       \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "setup: %s failed\n", what);                                                 \
      return -1;                                                                                   \
    }                                                                                              \
  } while (0)

static int setup(void **state) {
  (void)state;
  SETUP_OK(ce1_start() == 0, "nacosd or the browser");
  char servers[256], dir[128];
  nc_test_agent_servers(servers, sizeof(servers), &ce1.srv, NULL);
  snprintf(dir, sizeof(dir), "%s/agent", ce1.dir);
  mkdir(dir, 0700);
  const char *extra[] = {"--username", "nacos", "--password-file", ce1.pw_file, NULL};
  SETUP_OK(nc_test_agent_start(&g.ag, dir, servers, extra) == 0, "the agent");
  g.ag_up = 1;
  SETUP_OK(nc_test_agent_wait_connected(&g.ag, 10000) >= 0, "the agent's upstream");
  g.app = nc_tc_open(g.ag.sock);
  g.sub = nc_tc_open(g.ag.sock);
  SETUP_OK(g.app && g.sub, "the agent's socket");
  /* the subscriber first, so it is pushed every change after */
  cJSON *r = nc_tc_call(g.sub, 1, "{\"id\":1,\"op\":\"naming.subscribe\",\"service\":\"" SVC "\"}");
  int ok = nc_tc_ok(r);
  cJSON_Delete(r);
  SETUP_OK(ok, "naming.subscribe");
  r = nc_tc_call(g.sub, 2, "{\"id\":2,\"op\":\"naming.subscribe\",\"service\":\"" SVC_HTTP "\"}");
  ok = nc_tc_ok(r);
  cJSON_Delete(r);
  SETUP_OK(ok, "naming.subscribe " SVC_HTTP);
  SETUP_OK(nc_tc_call_ok(g.app, 1,
                         "{\"id\":1,\"op\":\"naming.register\",\"service\":\"" SVC "\","
                         "\"ip\":\"10.9.0.1\",\"port\":8080,\"metadata\":{\"zone\":\"a\"}}"),
           "naming.register");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  nc_tc_close(g.app);
  nc_tc_close(g.sub);
  int rc = g.ag_up ? nc_test_agent_stop(&g.ag) : 0;
  return ce1_stop() || rc;
}

/* GET path with the admin token, parsed (NULL when not JSON); *st the status. */
static cJSON *get_json(const char *path, int *st) {
  char *body = NULL;
  *st = ce1_req("GET", path, NULL, &body);
  cJSON *j = body ? cJSON_Parse(body) : NULL;
  free(body);
  return j;
}

/* The endpoints the page reads, over HTTP: Nacos's JSON, and errors. */
static void test_console_endpoints(void **state) {
  (void)state;
  int st = 0;
  cJSON *j = NULL;
  /* the agent's instance is there once its register went upstream */
  for (int i = 0; i < 50; i++) {
    cJSON_Delete(j);
    j = get_json("/nacos/v1/ns/catalog/services?pageNo=1&pageSize=10&serviceNameParam=orders", &st);
    if (nc_json_int(j, "count", 0) == 1)
      break;
    nc_test_sleep_ms(100);
  }
  assert_int_equal(st, 200);
  assert_int_equal(nc_json_int(j, "count", 0), 1);
  cJSON *s = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "serviceList"), 0);
  assert_string_equal(nc_json_str(s, "name", ""), SVC);
  assert_string_equal(nc_json_str(s, "groupName", ""), "DEFAULT_GROUP");
  assert_int_equal(nc_json_int(s, "ipCount", -1), 1);
  assert_int_equal(nc_json_int(s, "healthyInstanceCount", -1), 1);
  assert_int_equal(nc_json_int(s, "clusterCount", -1), 1);
  assert_string_equal(nc_json_str(s, "triggerFlag", ""), "false"); /* 1/1 healthy > threshold 0 */
  cJSON_Delete(j);
  /* pages over group, then name: console-http (subscribed only) then SVC;
   * hasIpCount leaves out the one without instances */
  j = get_json("/nacos/v1/ns/catalog/services?pageNo=2&pageSize=1", &st);
  assert_int_equal(nc_json_int(j, "count", 0), 2);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "serviceList")), 1);
  s = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "serviceList"), 0);
  assert_string_equal(nc_json_str(s, "name", ""), SVC);
  cJSON_Delete(j);
  j = get_json("/nacos/v1/ns/catalog/services?hasIpCount=true", &st);
  assert_int_equal(nc_json_int(j, "count", 0), 1);
  cJSON_Delete(j);
  /* a search that matches nothing, another namespace */
  j = get_json("/nacos/v1/ns/catalog/services?serviceNameParam=nomatch", &st);
  assert_int_equal(st, 200);
  assert_int_equal(nc_json_int(j, "count", -1), 0);
  cJSON_Delete(j);
  j = get_json("/nacos/v1/ns/catalog/services?namespaceId=elsewhere", &st);
  assert_int_equal(nc_json_int(j, "count", -1), 0);
  cJSON_Delete(j);
  j = get_json("/nacos/v1/ns/catalog/instances?serviceName=" SVC, &st);
  assert_int_equal(st, 200);
  assert_int_equal(nc_json_int(j, "count", 0), 1);
  cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "list"), 0);
  assert_string_equal(nc_json_str(h, "ip", ""), "10.9.0.1");
  assert_string_equal(nc_json_str(cJSON_GetObjectItem(h, "metadata"), "zone", ""), "a");
  cJSON_Delete(j);
  j = get_json("/nacos/v1/ns/service/subscribers?serviceName=" SVC "&groupName=DEFAULT_GROUP", &st);
  assert_int_equal(st, 200);
  assert_int_equal(nc_json_int(j, "count", 0), 1);
  s = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "subscribers"), 0);
  assert_non_null(strchr(nc_json_str(s, "addrStr", ""), ':'));
  assert_string_equal(nc_json_str(s, "serviceName", ""), "DEFAULT_GROUP@@" SVC);
  cJSON_Delete(j);
  /* errors: Nacos's v1 text with 400; no token: 403 */
  char *body = NULL;
  assert_int_equal(ce1_req("GET", "/nacos/v1/ns/catalog/instances", NULL, &body), 400);
  assert_non_null(strstr(body, "serviceName"));
  free(body);
  assert_int_equal(ce1_req("GET", "/nacos/v1/ns/catalog/services?pageSize=0", NULL, &body), 400);
  assert_non_null(strstr(body, "pageSize"));
  free(body);
  assert_int_equal(ce1_req("GET", "/nacos/v1/ns/service/subscribers?serviceName=a@@", NULL, NULL),
                   400);
  assert_int_equal(nc_test_http_req(ce1.srv.port, "GET", "/nacos/v1/ns/catalog/services", NULL,
                                    NULL, &st, NULL),
                   0);
  assert_int_equal(st, 403);
  /* a user who may read only another namespace sees none of these */
  assert_int_equal(ce1_req("POST", "/nacos/v1/auth/users", "username=viewer&password=Viewer-pw-1", NULL),
                   200);
  assert_int_equal(ce1_req("POST", "/nacos/v1/auth/roles", "username=viewer&role=ROLE_VIEW", NULL), 200);
  assert_int_equal(ce1_req("POST", "/nacos/v1/auth/permissions",
                           "role=ROLE_VIEW&resource=other:*:naming/*&action=r", NULL),
                   200);
  nc_ag_login l;
  assert_int_equal(nc_ag_login_http(ce1.srv.host, ce1.srv.port, "viewer", "Viewer-pw-1", 5000, &l), 0);
  body = NULL;
  assert_int_equal(nc_test_http_req(ce1.srv.port, "GET", "/nacos/v1/ns/catalog/services", NULL,
                                    l.token, &st, &body),
                   0);
  assert_int_equal(st, 200);
  j = cJSON_Parse(body);
  free(body);
  assert_int_equal(nc_json_int(j, "count", -1), 0);
  cJSON_Delete(j);
  assert_int_equal(nc_test_http_req(ce1.srv.port, "GET",
                                    "/nacos/v1/ns/catalog/instances?serviceName=" SVC, NULL,
                                    l.token, &st, NULL),
                   0);
  assert_int_equal(st, 403);
  assert_int_equal(nc_test_http_req(ce1.srv.port, "GET",
                                    "/nacos/v1/ns/service/subscribers?serviceName=" SVC, NULL,
                                    l.token, &st, NULL),
                   0);
  assert_int_equal(st, 403);
}

static void test_services_page_lists_the_agents_instance(void **state) {
  (void)state;
  CE_SKIP_NO_BROWSER();
  ce1_login("services");
  WAIT_JS("document.querySelector('#svc-rows tr[data-svc=\"DEFAULT_GROUP@@" SVC "\"] td.ips') && "
          "document.querySelector('#svc-rows tr[data-svc=\"DEFAULT_GROUP@@" SVC "\"] td.ips')"
          ".textContent === '1'", 10000);
  shot("services-list");
  /* the search narrows the list to nothing, then back */
  WD_OK(nc_twd_type(ce.wd, "#svc-q-name", "nomatch"));
  WD_OK(nc_twd_click(ce.wd, "#svc-search-go"));
  WAIT_JS("!document.querySelector('#svc-rows tr[data-svc]')", 5000);
  WD_OK(nc_twd_type(ce.wd, "#svc-q-name", "orders"));
  WD_OK(nc_twd_click(ce.wd, "#svc-search-go"));
  WAIT_JS("document.querySelector('#svc-rows tr[data-svc]')", 5000);
  WD_OK(nc_twd_click(ce.wd, "#svc-rows tr[data-svc] button[data-action=\"detail\"]"));
  WAIT_JS("document.querySelector('#inst-rows tr[data-addr=\"10.9.0.1:8080\"]')", 10000);
  WAIT_JS("document.querySelectorAll('#sub-rows tr[data-addr]').length === 1", 10000);
  char *meta = ce_text("#inst-rows tr[data-addr=\"10.9.0.1:8080\"] td.meta");
  assert_non_null(strstr(meta, "zone=a"));
  free(meta);
  shot("services-detail");
}

/* Opens service svc's detail page (from the list). */
static void open_service(const char *svc) {
  char css[256], expr[400];
  ce1_login("services");
  snprintf(css, sizeof(css), "#svc-rows tr[data-svc=\"DEFAULT_GROUP@@%s\"] button[data-action=\"detail\"]",
           svc);
  snprintf(expr, sizeof(expr), "document.querySelector('%s')", css);
  WAIT_JS(expr, 10000);
  WD_OK(nc_twd_click(ce.wd, css));
  WAIT_JS("document.querySelector('#inst-rows tr[data-addr]')", 10000);
}

/* Edits the weight of instance addr on the open detail page to weight
 * (also trying a bad value first); 0 saved, 1 refused because this
 * nacosd cannot update that kind of instance yet (the dialog is closed). */
static int edit_weight(const char *addr, const char *weight) {
  char css[200];
  snprintf(css, sizeof(css), "#inst-rows tr[data-addr=\"%s\"] button[data-action=\"edit\"]", addr);
  WD_OK(nc_twd_click(ce.wd, css));
  WAIT_JS("!document.getElementById('dlg-back').hidden", 5000);
  /* bad input is refused in the dialog, which stays */
  WD_OK(nc_twd_type(ce.wd, "#inst-weight", "-3"));
  WD_OK(nc_twd_click(ce.wd, "#dlg-ok"));
  WAIT_JS("!document.getElementById('dlg-err').hidden", 5000);
  WD_OK(nc_twd_type(ce.wd, "#inst-weight", weight));
  shot("services-edit");
  WD_OK(nc_twd_click(ce.wd, "#dlg-ok"));
  if (nc_twd_wait(ce.wd, "document.getElementById('dlg-back').hidden", 10000) == 0)
    return 0;
  char *e = ce_text("#dlg-err");
  fprintf(stderr, "the edit was refused: %s\n", e);
  int pending = strstr(e, "only instances registered over HTTP") != NULL;
  free(e);
  shot("services-edit-refused");
  no_dialog();
  if (!pending)
    fail();
  return 1;
}

/* 1 once the subscriber is pushed svc with host ip at weight w (10 s). */
static int pushed_weight(const char *svc, const char *ip, double w) {
  for (int i = 0; i < 20; i++) {
    cJSON *ev = nc_tc_wait_event(g.sub, "naming.changed", "service", svc, 1000);
    const cJSON *h;
    int seen = 0;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(ev, "hosts")) {
      seen |= !strcmp(nc_json_str(h, "ip", ""), ip) && nc_json_num(h, "weight", 0) == w;
    }
    cJSON_Delete(ev);
    if (seen)
      return 1;
  }
  return 0;
}

/* An instance registered over HTTP: the weight set on the page is pushed
 * to the agent's subscriber and shown on the page. */
static void test_weight_edit_of_http_instance_reaches_the_subscriber(void **state) {
  (void)state;
  CE_SKIP_NO_BROWSER();
  assert_int_equal(ce1_req("POST", "/nacos/v1/ns/instance",
                           "serviceName=" SVC_HTTP "&ip=10.9.0.2&port=9090&weight=1"
                           "&metadata=%7B%22x%22%3A%22%3Cb%3Ebold%3C%2Fb%3E%22%7D",
                           NULL),
                   200);
  assert_true(pushed_weight(SVC_HTTP, "10.9.0.2", 1));
  open_service(SVC_HTTP);
  /* markup in metadata is shown as text, never parsed */
  WAIT_JS("document.querySelector('#inst-rows tr[data-addr=\"10.9.0.2:9090\"] td.meta')"
          ".textContent === 'x=<b>bold</b>' && !document.querySelector('#inst-rows td.meta b')", 10000);
  assert_int_equal(edit_weight("10.9.0.2:9090", "2.5"), 0);
  assert_true(pushed_weight(SVC_HTTP, "10.9.0.2", 2.5));
  WAIT_JS("document.querySelector('#inst-rows tr[data-addr=\"10.9.0.2:9090\"] td.weight')"
          ".textContent === '2.5'", 10000);
  shot("services-weight-http");
  /* the server has it too */
  int st = 0;
  cJSON *j = get_json("/nacos/v1/ns/catalog/instances?serviceName=" SVC_HTTP, &st);
  cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "list"), 0);
  assert_true(nc_json_num(h, "weight", 0) == 2.5);
  cJSON_Delete(j);
  /* Disable takes it out of the traffic (the weight stays), Enable back */
  WD_OK(nc_twd_click(ce.wd, "#inst-rows tr[data-addr=\"10.9.0.2:9090\"] button[data-action=\"toggle\"]"));
  WAIT_JS("document.querySelector('#inst-rows tr[data-addr=\"10.9.0.2:9090\"] td.enabled')"
          ".textContent === 'no'", 10000);
  j = get_json("/nacos/v1/ns/catalog/instances?serviceName=" SVC_HTTP, &st);
  h = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "list"), 0);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItem(h, "enabled")));
  assert_true(nc_json_num(h, "weight", 0) == 2.5);
  cJSON_Delete(j);
  shot("services-disabled");
  WD_OK(nc_twd_click(ce.wd, "#inst-rows tr[data-addr=\"10.9.0.2:9090\"] button[data-action=\"toggle\"]"));
  WAIT_JS("document.querySelector('#inst-rows tr[data-addr=\"10.9.0.2:9090\"] td.enabled')"
          ".textContent === 'yes'", 10000);
  WAIT_JS("document.getElementById('svc-info').textContent.includes('Protect threshold')", 5000);
}

/* The agent's (gRPC) instance: the same edit, pushed to the subscriber.
 * Skips while this nacosd updates only instances registered over HTTP. */
static void test_weight_edit_of_agent_instance_reaches_the_subscriber(void **state) {
  (void)state;
  CE_SKIP_NO_BROWSER();
  open_service(SVC);
  if (edit_weight("10.9.0.1:8080", "3.5"))
    skip();
  assert_true(pushed_weight(SVC, "10.9.0.1", 3.5));
  WAIT_JS("document.querySelector('#inst-rows tr[data-addr=\"10.9.0.1:8080\"] td.weight')"
          ".textContent === '3.5'", 10000);
  shot("services-weight");
}

/* 1 when this nacosd serves the service writes (POST /nacos/v1/ns/service). */
static int service_writes_served(void) {
  char *body = NULL;
  int st = ce1_req("POST", "/nacos/v1/ns/service", "", &body);
  free(body);
  return st != 405 && st != 404;
}

/* Create a service on the page (threshold, metadata; checked on the
 * server), see it listed empty, a delete of a service with instances
 * refused with the server's words in the dialog, the empty one deleted. */
static void test_service_create_and_delete_refused(void **state) {
  (void)state;
  CE_SKIP_NO_BROWSER();
  if (!service_writes_served()) {
    fprintf(stderr, "skipped: this nacosd does not serve POST /nacos/v1/ns/service yet\n");
    skip();
  }
  ce1_login("services");
  open_dialog("#svc-create");
  WD_OK(nc_twd_type(ce.wd, "#svc-name", "console-empty"));
  WD_OK(nc_twd_type(ce.wd, "#svc-threshold", "0.5"));
  WD_OK(nc_twd_type(ce.wd, "#svc-meta", "team=x"));
  shot("services-create");
  confirm_dialog();
  wait_toast("Created service");
  int st = 0;
  cJSON *j = get_json("/nacos/v1/ns/service?serviceName=console-empty", &st);
  assert_int_equal(st, 200);
  assert_true(nc_json_num(j, "protectThreshold", -1) == 0.5);
  assert_string_equal(nc_json_str(cJSON_GetObjectItem(j, "metadata"), "team", ""), "x");
  cJSON_Delete(j);
  /* listed with no instance, until "Hide empty services" */
  WAIT_JS("document.querySelector('#svc-rows tr[data-svc=\"DEFAULT_GROUP@@console-empty\"] td.ips') && "
          "document.querySelector('#svc-rows tr[data-svc=\"DEFAULT_GROUP@@console-empty\"] td.ips')"
          ".textContent === '0'", 10000);
  WD_OK(nc_twd_click(ce.wd, "#svc-hide-empty"));
  WD_OK(nc_twd_click(ce.wd, "#svc-search-go"));
  WAIT_JS("!document.querySelector('#svc-rows tr[data-svc=\"DEFAULT_GROUP@@console-empty\"]') && "
          "document.querySelector('#svc-rows tr[data-svc=\"DEFAULT_GROUP@@" SVC "\"]')", 10000);
  WD_OK(nc_twd_click(ce.wd, "#svc-hide-empty"));
  WD_OK(nc_twd_click(ce.wd, "#svc-search-go"));
  /* the agent's service has an instance: its delete is refused */
  WAIT_JS("document.querySelector('#svc-rows tr[data-svc=\"DEFAULT_GROUP@@" SVC "\"] "
          "button[data-action=\"delete\"]')", 10000);
  WD_OK(nc_twd_click(ce.wd, "#svc-rows tr[data-svc=\"DEFAULT_GROUP@@" SVC "\"] "
                            "button[data-action=\"delete\"]"));
  WAIT_JS("!document.getElementById('dlg-back').hidden", 5000);
  WD_OK(nc_twd_click(ce.wd, "#dlg-ok"));
  WAIT_JS("!document.getElementById('dlg-err').hidden", 10000);
  shot("services-delete-refused");
  no_dialog();
  j = get_json("/nacos/v1/ns/catalog/instances?serviceName=" SVC, &st);
  assert_int_equal(nc_json_int(j, "count", 0), 1);
  cJSON_Delete(j);
  /* the empty one is deleted from the list */
  WAIT_JS("document.querySelector('#svc-rows tr[data-svc=\"DEFAULT_GROUP@@console-empty\"] "
          "button[data-action=\"delete\"]')", 10000);
  WD_OK(nc_twd_click(ce.wd, "#svc-rows tr[data-svc=\"DEFAULT_GROUP@@console-empty\"] "
                            "button[data-action=\"delete\"]"));
  confirm_dialog();
  WAIT_JS("!document.querySelector('#svc-rows tr[data-svc=\"DEFAULT_GROUP@@console-empty\"]')", 10000);
  cJSON_Delete(get_json("/nacos/v1/ns/service?serviceName=console-empty", &st));
  assert_int_not_equal(st, 200);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_console_endpoints),
      cmocka_unit_test(test_services_page_lists_the_agents_instance),
      cmocka_unit_test(test_weight_edit_of_http_instance_reaches_the_subscriber),
      cmocka_unit_test(test_weight_edit_of_agent_instance_reaches_the_subscriber),
      cmocka_unit_test(test_service_create_and_delete_refused),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}

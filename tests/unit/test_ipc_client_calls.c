/* nc_ipc client library against a scripted fake agent (ipc_fake_agent_util.h):
 * what the typed calls put on the wire (register and deregister fields, the
 * listings, config.remove's existed, the detached flag) and the arguments
 * they refuse locally before anything is sent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_ipc.h"
#include "nc_ipc_ops.h"

#include "ipc_fake_agent_util.h"

#include <string.h>

static void test_register_sends_protocol_fields(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.register",
       .send = "{\"id\":$1,\"ok\":true,\"instance_id\":\"10.0.0.1#80#DEFAULT#DEFAULT_GROUP@@svc\","
               "\"applied\":false}\n"},
      {.expect_op = "naming.deregister", .send = "{\"id\":$2,\"ok\":true}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  nc_ipc_instance in;
  svc_instance(&in, 80);
  in.weight = 2.5;
  cJSON *md = cJSON_Parse("{\"zone\":\"a\"}");
  in.metadata = md;
  char *iid = NULL;
  int applied = 1;
  assert_int_equal(nc_ipc_register(c, &in, 2000, &iid, &applied), 0);
  assert_string_equal(iid, "10.0.0.1#80#DEFAULT#DEFAULT_GROUP@@svc");
  assert_int_equal(applied, 0);
  free(iid);
  assert_int_equal(nc_ipc_deregister(c, &in, 2000), 0);
  nc_ipc_free(c);
  fake_join(f);
  assert_int_equal(f->nreq, 2);
  const cJSON *reg = f->reqs[0], *dereg = f->reqs[1];
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(reg, "service")), "svc");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(reg, "ip")), "10.0.0.1");
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(reg, "port")), 80);
  assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(reg, "weight")) == 2.5);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(reg, "ephemeral")));
  assert_string_equal(
      cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(reg, "metadata"), "zone")), "a");
  /* Defaults are left to the agent rather than spelled out. */
  assert_null(cJSON_GetObjectItem(reg, "group"));
  assert_null(cJSON_GetObjectItem(reg, "namespace"));
  assert_null(cJSON_GetObjectItem(reg, "detached")); /* only when asked for */
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(dereg, "ip")), "10.0.0.1");
  assert_null(cJSON_GetObjectItem(dereg, "metadata"));
  fake_stop(f);
  cJSON_Delete(md);
}

/* The issue 9 item 7 calls: request shapes as agreed for the agent ops,
 * config.remove's existed (-1 from an agent that does not send it), the
 * detached flag, and the paging checks made locally. */
static void test_listing_and_existed_calls(void **state) {
  (void)state;
  const step script[] = {
      {.expect_op = "naming.services",
       .send = "{\"id\":$1,\"ok\":true,\"count\":1,\"services\":[\"s\"]}\n"},
      {.expect_op = "config.list",
       .send = "{\"id\":$2,\"ok\":true,\"totalCount\":0,\"pageNumber\":2,\"pagesAvailable\":0,"
               "\"items\":[]}\n"},
      {.expect_op = "config.history", .send = "{\"id\":$3,\"ok\":true,\"items\":[]}\n"},
      {.expect_op = "config.remove", .send = "{\"id\":$4,\"ok\":true,\"existed\":false}\n"},
      {.expect_op = "config.remove", .send = "{\"id\":$5,\"ok\":true}\n"},
      {.expect_op = "naming.register", .send = "{\"id\":$6,\"ok\":true,\"instance_id\":\"x\"}\n"},
  };
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  cJSON *r = NULL;
  int existed = 7;
  assert_int_equal(nc_ipc_services(c, "dev", "G", 0, 0, 2000, &r), 0);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(r, "count")), 1);
  cJSON_Delete(r);
  assert_int_equal(nc_ipc_services(c, NULL, NULL, 1, 1001, 2000, NULL), NC_IPC_E_INVAL);
  assert_int_equal(nc_ipc_config_list(c, NULL, NULL, "app*", 2, 50, 2000, NULL), 0);
  assert_int_equal(nc_ipc_config_history(c, NULL, NULL, "", 0, 2000, NULL), NC_IPC_E_INVAL);
  assert_int_equal(nc_ipc_config_history(c, NULL, "G", "k", 5, 2000, NULL), 0);
  assert_int_equal(nc_ipc_config_remove_ex(c, NULL, NULL, "k", 2000, &existed), 0);
  assert_int_equal(existed, 0);
  assert_int_equal(nc_ipc_config_remove_ex(c, NULL, NULL, "k", 2000, &existed), 0);
  assert_int_equal(existed, -1);
  nc_ipc_instance in;
  svc_instance(&in, 80);
  in.detached = 1;
  assert_int_equal(nc_ipc_register(c, &in, 2000, NULL, NULL), 0);
  nc_ipc_free(c);
  fake_join(f);
  assert_int_equal(f->nreq, 6);
  const cJSON *svc = f->reqs[0], *list = f->reqs[1], *hist = f->reqs[2], *reg = f->reqs[5];
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(svc, "namespace")), "dev");
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(svc, "group")), "G");
  assert_null(cJSON_GetObjectItem(svc, "pageNo")); /* 0 = the agent's default */
  assert_null(cJSON_GetObjectItem(svc, "pageSize"));
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(list, "dataId")), "app*");
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(list, "pageNo")), 2);
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(list, "pageSize")), 50);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(hist, "dataId")), "k");
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(hist, "pageSize")), 5);
  assert_null(cJSON_GetObjectItem(hist, "pageNo"));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItem(reg, "detached")));
  fake_stop(f);
}

static void test_bad_arguments_rejected_locally(void **state) {
  (void)state;
  const step script[] = {{.expect_op = "agent.status", .send = "{\"id\":$1,\"ok\":true}\n"}};
  fake *f = RUN_FAKE(script);
  nc_ipc *c = client_for(f);
  nc_ipc_instance in;
  svc_instance(&in, 70000);
  assert_int_equal(nc_ipc_register(c, &in, 2000, NULL, NULL), NC_IPC_E_INVAL);
  assert_string_equal(nc_ipc_errcode(c), "INVAL");
  assert_int_equal(nc_ipc_instances(c, NULL, NULL, "", 0, 2000, NULL), NC_IPC_E_INVAL);
  cJSON *arr = cJSON_CreateArray();
  assert_int_equal(nc_ipc_call(c, "agent.status", arr, 2000, NULL), NC_IPC_E_INVAL);
  cJSON_Delete(arr);
  assert_int_equal(nc_ipc_wait(c, 999, 10, NULL), NC_IPC_E_INVAL);
  /* Nothing reached the agent: the first request it reads is this one. */
  assert_int_equal(nc_ipc_status(c, 2000, NULL), 0);
  nc_ipc_free(c);
  fake_stop(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_sends_protocol_fields),
      cmocka_unit_test(test_listing_and_existed_calls),
      cmocka_unit_test(test_bad_arguments_rejected_locally),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Distro on the wire as a Java Nacos 2.x peer sends it (nacos-cluster.md
 * §3.3-§3.5): hand-written DistroDataRequests on a node's cluster port —
 * CHANGE with the doc's ClientSyncData, VERIFY with the right and a wrong
 * revision, DELETE, a CHANGE naming a client native to the node (#15857:
 * answered with success, nothing changed), an unknown resource type, bad
 * base64, SNAPSHOT without nacos-c's paging and QUERY. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "distro_codec.h"
#include "nc_err.h"
#include "distro_itest.h"

#define JAVA_ID "1732200000123_10.0.0.7_52144"
/* base64 of the doc's ClientSyncData (revision 3, demo.svc 10.0.0.7:8080) */
#define SYNC_B64                                                                                   \
  "eyJjbGllbnRJZCI6IjE3MzIyMDAwMDAxMjNfMTAuMC4wLjdfNTIxNDQiLCJhdHRyaWJ1dGVzIjp7ImNsaWVudEF0dHJp" \
  "YnV0ZXMiOnsicmV2aXNpb24iOjN9fSwibmFtZXNwYWNlcyI6WyJwdWJsaWMiXSwiZ3JvdXBOYW1lcyI6WyJERUZBVUxU" \
  "X0dST1VQIl0sInNlcnZpY2VOYW1lcyI6WyJkZW1vLnN2YyJdLCJpbnN0YW5jZVB1Ymxpc2hJbmZvcyI6W3siaXAiOiIx" \
  "MC4wLjAuNyIsInBvcnQiOjgwODAsImhlYWx0aHkiOnRydWUsImNsdXN0ZXIiOiJERUZBVUxUIiwiZXh0ZW5kRGF0dW0i" \
  "OnsiayI6InYifSwibWV0YWRhdGFJZCI6IjEwLjAuMC43OjgwODA6REVGQVVMVCJ9XSwiYmF0Y2hJbnN0YW5jZURhdGEi" \
  "Ont9fQ=="
#define VERIFY3_B64 "eyJjbGllbnRJZCI6IjE3MzIyMDAwMDAxMjNfMTAuMC4wLjdfNTIxNDQiLCJyZXZpc2lvbiI6M30="
#define VERIFY4_B64 "eyJjbGllbnRJZCI6IjE3MzIyMDAwMDAxMjNfMTAuMC4wLjdfNTIxNDQiLCJyZXZpc2lvbiI6NH0="

/* A DistroDataRequest as Java builds it; content NULL: none. */
static nc_tw_reply distro(nc_tw *peer, const char *op, const char *type, const char *key,
                          const char *content, cJSON **resp_body) {
  char js[4096];
  snprintf(js, sizeof(js),
           "{\"headers\":{},\"distroData\":{\"distroKey\":{\"resourceKey\":\"%s\","
           "\"resourceType\":\"%s\",\"targetServer\":\"127.0.0.1:8848\"},\"type\":\"%s\""
           "%s%s%s},\"dataOperation\":\"%s\",\"module\":\"cluster\"}",
           key, type, op, content ? ",\"content\":\"" : "", content ? content : "",
           content ? "\"" : "", op);
  cJSON *body = cJSON_Parse(js);
  assert_non_null(body);
  nc_msg *m = nc_tw_call(peer, "DistroDataRequest", body);
  assert_non_null(m);
  nc_tw_reply r = nc_tw_reply_of(m);
  if (resp_body)
    *resp_body = cJSON_Duplicate(m->body, 1);
  nc_msg_free(m);
  return r;
}

static void test_java_shaped_requests(void **state) {
  (void)state;
  nc_tcluster *c = cit_start(2, NULL);
  nc_tw *sdk = dit_open(c, 0, 20000);
  assert_non_null(sdk);
  char target[80];
  snprintf(target, sizeof(target), "%s:%d", nc_tcluster_node(c, 0)->host,
           nc_tcluster_node(c, 0)->cluster_port);
  nc_tw *peer = nc_tw_open(g_env, target, NULL);
  assert_non_null(peer);
  const char *T = NC_DISTRO_TYPE;

  /* CHANGE: the Java client appears on the node */
  nc_tw_reply r = distro(peer, "CHANGE", T, JAVA_ID, SYNC_B64, NULL);
  assert_int_equal(r.result_code, 200);
  assert_string_equal(r.type, "DistroDataResponse");
  assert_int_equal(dit_hosts(sdk, "demo.svc"), 1);
  /* VERIFY: revision 3 verifies, 4 fails with Nacos's message */
  r = distro(peer, "VERIFY", T, JAVA_ID, VERIFY3_B64, NULL);
  assert_int_equal(r.result_code, 200);
  r = distro(peer, "VERIFY", T, JAVA_ID, VERIFY4_B64, NULL);
  assert_int_equal(r.result_code, 500);
  assert_string_equal(r.message, "[DISTRO-FAILED] distro data verify failed");
  /* QUERY gives the client back */
  cJSON *b = NULL;
  r = distro(peer, "QUERY", T, JAVA_ID, NULL, &b);
  assert_int_equal(r.result_code, 200);
  cJSON *content = NULL;
  const char *err = NULL;
  assert_int_equal(nc_distro_response_content(b, &content, &err), 0);
  assert_string_equal(nc_json_str(content, "clientId", ""), JAVA_ID);
  cJSON_Delete(content);
  cJSON_Delete(b);
  /* an unknown resource type: errorCode 500 with resultCode 200 (Nacos) */
  r = distro(peer, "CHANGE", "Nacos:Other", JAVA_ID, SYNC_B64, NULL);
  assert_int_equal(r.result_code, 200);
  assert_int_equal(r.error_code, 500);
  /* bad base64 and non-JSON content: refused, state intact */
  r = distro(peer, "CHANGE", T, JAVA_ID, "%%%%", NULL);
  assert_int_equal(r.result_code, 500);
  r = distro(peer, "CHANGE", T, JAVA_ID, "bm90IGpzb24=", NULL);
  assert_int_equal(r.result_code, 500);
  assert_int_equal(dit_hosts(sdk, "demo.svc"), 1);

  /* a CHANGE naming the SDK's own (native) client: success, nothing changes */
  nc_tw_instance in = {.ip = "10.4.0.1", .port = 9};
  r = nc_tw_register(sdk, "mine", &in);
  assert_true(nc_tw_ok(&r));
  char js[1024];
  snprintf(js, sizeof(js),
           "{\"clientId\":\"%s\",\"attributes\":{\"clientAttributes\":{\"revision\":9}},"
           "\"namespaces\":[],\"groupNames\":[],\"serviceNames\":[],\"instancePublishInfos\":[],"
           "\"batchInstanceData\":{}}",
           nc_tw_id(sdk));
  char *b64 = nc_b64_encode((const unsigned char *)js, strlen(js));
  r = distro(peer, "CHANGE", T, nc_tw_id(sdk), b64, NULL);
  free(b64);
  assert_int_equal(r.result_code, 200);
  r = distro(peer, "DELETE", T, nc_tw_id(sdk), NULL, NULL);
  assert_int_equal(r.result_code, 200);
  assert_int_equal(dit_hosts(sdk, "mine"), 1);
  assert_true(nc_tcluster_metric(c, 0, "nacosd_distro_refused_native_total") >= 2);

  /* SNAPSHOT as Java asks for it (no paging): everything in one message */
  cJSON *snap = cJSON_Parse("{\"headers\":{},\"dataOperation\":\"SNAPSHOT\",\"module\":\"cluster\"}");
  nc_msg *m = nc_tw_call(peer, "DistroDataRequest", snap);
  assert_non_null(m);
  assert_int_equal(nc_json_int(m->body, "resultCode", 0), 200);
  assert_null(cJSON_GetObjectItemCaseSensitive(m->body, "ncNext"));
  const cJSON *dk = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(m->body, "distroData"), "distroKey");
  assert_string_equal(nc_json_str(dk, "resourceKey", ""), "SNAPSHOT");
  assert_int_equal(nc_distro_response_content(m->body, &content, &err), 0);
  nc_msg_free(m);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(content, "clientSyncDataList"), *it;
  int found_java = 0, found_native = 0;
  cJSON_ArrayForEach(it, list) {
    found_java |= strcmp(nc_json_str(it, "clientId", ""), JAVA_ID) == 0;
    found_native |= strcmp(nc_json_str(it, "clientId", ""), nc_tw_id(sdk)) == 0;
  }
  cJSON_Delete(content);
  assert_true(found_java);
  assert_true(found_native);

  /* DELETE removes the Java client */
  r = distro(peer, "DELETE", T, JAVA_ID, NULL, NULL);
  assert_int_equal(r.result_code, 200);
  assert_int_equal(dit_hosts(sdk, "demo.svc"), 0);
  /* the same request on the SDK port is refused */
  nc_tw_reply rs = distro(sdk, "DELETE", T, JAVA_ID, NULL, NULL);
  assert_int_not_equal(rs.result_code, 200);
  nc_tw_close(peer);
  nc_tw_close(sdk);
  assert_int_equal(nc_tcluster_stop(c), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_java_shaped_requests),
  };
  DIT_MAIN(tests);
}

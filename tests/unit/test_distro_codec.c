/* Unit tests of distro_codec: ClientSyncData in the shape of
 * nacos-cluster.md §3.4 (single and batch publications, extendDatum
 * carrying weight/enabled/customInstanceId, batchInstanceData {}),
 * round trips through a registry, DistroDataRequest/Response with base64
 * content, verify info, and bad input refused cleanly. */
#include "distro_codec.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_payload.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The doc's example, plus a batch publication from a Java peer. */
static const char *const FIXTURE =
    "{\"clientId\":\"1732200000123_10.0.0.7_52144\","
    "\"attributes\":{\"clientAttributes\":{\"revision\":3}},"
    "\"namespaces\":[\"public\"],\"groupNames\":[\"DEFAULT_GROUP\"],\"serviceNames\":[\"demo.svc\"],"
    "\"instancePublishInfos\":[{\"ip\":\"10.0.0.7\",\"port\":8080,\"healthy\":true,"
    "\"cluster\":\"DEFAULT\",\"extendDatum\":{\"k\":\"v\",\"publishInstanceWeight\":2.5,"
    "\"customInstanceId\":\"my-id\"},\"metadataId\":\"10.0.0.7:8080:DEFAULT\"}],"
    "\"batchInstanceData\":{\"namespaces\":[\"dev\"],\"groupNames\":[\"G\"],"
    "\"serviceNames\":[\"b.svc\"],\"batchInstancePublishInfos\":[{\"port\":0,\"healthy\":false,"
    "\"metadataId\":\"null:0:null\",\"instancePublishInfos\":["
    "{\"ip\":\"10.0.0.8\",\"port\":1,\"healthy\":true,\"cluster\":\"c1\",\"extendDatum\":{"
    "\"publishInstanceEnable\":false}},"
    "{\"ip\":\"10.0.0.9\",\"port\":2,\"healthy\":false,\"cluster\":\"c1\",\"extendDatum\":{}}]}]}}";

static nc_nreg *apply_fixture(const char *txt) {
  nc_nreg *r = NULL;
  assert_int_equal(nc_nreg_new(&r), 0);
  cJSON *j = cJSON_Parse(txt);
  assert_non_null(j);
  nc_distro_client c;
  const char *err = NULL;
  assert_int_equal(nc_distro_parse_sync_data(j, &c, &err), 0);
  assert_string_equal(c.id, "1732200000123_10.0.0.7_52144");
  assert_int_equal(c.revision, 3);
  assert_int_equal(c.n, 2);
  assert_int_equal(nc_nreg_sync_apply(r, c.id, "10.0.0.1:8848", c.revision, c.e, c.n, 1), 0);
  nc_distro_client_clear(&c);
  cJSON_Delete(j);
  return r;
}

static const cJSON *host0(cJSON *info) {
  return cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(info, "hosts"), 0);
}

static void test_fixture_applies_with_extend_datum(void **state) {
  (void)state;
  nc_nreg *r = apply_fixture(FIXTURE);
  cJSON *i = nc_nreg_service_info(r, "public", "DEFAULT_GROUP", "demo.svc", "", 0);
  const cJSON *h = host0(i);
  assert_non_null(h);
  assert_string_equal(nc_json_str(h, "instanceId", ""), "my-id");
  assert_true(nc_json_num(h, "weight", 0) == 2.5);
  assert_true(nc_json_bool(h, "enabled", 0));
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(h, "metadata");
  assert_string_equal(nc_json_str(md, "k", ""), "v");
  /* the Distro keys are not metadata */
  assert_null(cJSON_GetObjectItemCaseSensitive(md, "publishInstanceWeight"));
  assert_null(cJSON_GetObjectItemCaseSensitive(md, "customInstanceId"));
  cJSON_Delete(i);
  /* the batch: the disabled one is invisible, the unhealthy one shown */
  i = nc_nreg_service_info(r, "dev", "G", "b.svc", "", 0);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(i, "hosts")), 1);
  assert_string_equal(nc_json_str(host0(i), "ip", ""), "10.0.0.9");
  assert_false(nc_json_bool(host0(i), "healthy", 1));
  assert_string_equal(nc_json_str(host0(i), "clusterName", ""), "c1");
  cJSON_Delete(i);
  nc_nreg_free(r);
}

static void test_round_trip(void **state) {
  (void)state;
  nc_nreg *r = apply_fixture(FIXTURE);
  cJSON *out = nc_distro_sync_data(r, "1732200000123_10.0.0.7_52144");
  assert_non_null(out);
  /* exact §3.4 shape */
  assert_string_equal(nc_json_str(out, "clientId", ""), "1732200000123_10.0.0.7_52144");
  const cJSON *ca = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(out, "attributes"), "clientAttributes");
  assert_int_equal(nc_json_int(ca, "revision", 0), 3);
  assert_int_equal(cJSON_GetArraySize(ca), 1);
  const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(out, "instancePublishInfos"), 0);
  assert_string_equal(nc_json_str(p, "metadataId", ""), "10.0.0.7:8080:DEFAULT");
  assert_string_equal(nc_json_str(p, "cluster", ""), "DEFAULT");
  const cJSON *xd = cJSON_GetObjectItemCaseSensitive(p, "extendDatum");
  assert_true(nc_json_num(xd, "publishInstanceWeight", 0) == 2.5);
  assert_string_equal(nc_json_str(xd, "customInstanceId", ""), "my-id");
  assert_null(cJSON_GetObjectItemCaseSensitive(xd, "publishInstanceEnable"));
  const cJSON *bd = cJSON_GetObjectItemCaseSensitive(out, "batchInstanceData");
  const cJSON *bp = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(bd, "batchInstancePublishInfos"), 0);
  assert_string_equal(nc_json_str(bp, "metadataId", ""), "null:0:null");
  const cJSON *b0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(bp, "instancePublishInfos"), 0);
  assert_false(nc_json_bool(cJSON_GetObjectItemCaseSensitive(b0, "extendDatum"),
                            "publishInstanceEnable", 1));
  /* the re-encoded data applies to an identical registry: no change at all */
  char *txt = cJSON_PrintUnformatted(out);
  nc_nreg *r2 = apply_fixture(txt);
  cJSON *out2 = nc_distro_sync_data(r2, "1732200000123_10.0.0.7_52144");
  assert_true(cJSON_Compare(out, out2, 1));
  free(txt);
  cJSON_Delete(out);
  cJSON_Delete(out2);
  nc_nreg_free(r2);
  /* a client with only single publications sends batchInstanceData {} */
  nc_nreg_free(r);
  assert_int_equal(nc_nreg_new(&r), 0);
  cJSON *ij = cJSON_Parse("{\"ip\":\"1.2.3.4\",\"port\":5}");
  nc_ninst *in = NULL;
  const char *err = NULL;
  assert_int_equal(nc_ninst_parse(ij, "DEFAULT_GROUP", "s", &in, &err), 0);
  cJSON_Delete(ij);
  assert_int_equal(nc_nreg_publish(r, "c1", "", "DEFAULT_GROUP", "s", &in, 1), 0);
  out = nc_distro_sync_data(r, "c1");
  txt = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(out, "batchInstanceData"));
  assert_string_equal(txt, "{}");
  assert_string_equal(nc_json_str(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(out, "namespaces"), 0), "x", "public"), "public");
  free(txt);
  cJSON_Delete(out);
  assert_null(nc_distro_sync_data(r, "nope"));
  nc_nreg_free(r);
}

static int bad(const char *txt) {
  cJSON *j = cJSON_Parse(txt);
  assert_non_null(j);
  nc_distro_client c;
  const char *err = NULL;
  int rc = nc_distro_parse_sync_data(j, &c, &err);
  cJSON_Delete(j);
  if (rc)
    assert_non_null(err);
  else
    nc_distro_client_clear(&c);
  return rc;
}

static void test_bad_sync_data_refused(void **state) {
  (void)state;
  assert_int_equal(bad("[]"), NC_EINVAL);
  assert_int_equal(bad("{\"clientId\":5}"), NC_EINVAL);
  assert_int_equal(bad("{\"clientId\":\"\"}"), NC_EINVAL);
  assert_int_equal(bad("{\"clientId\":\"c\",\"attributes\":{\"clientAttributes\":"
                       "{\"revision\":\"3\"}}}"),
                   NC_EINVAL);
  assert_int_equal(bad("{\"clientId\":\"c\",\"namespaces\":\"public\"}"), NC_EINVAL);
  /* parallel arrays of different length */
  assert_int_equal(bad("{\"clientId\":\"c\",\"namespaces\":[\"a\"],\"groupNames\":[],"
                       "\"serviceNames\":[\"s\"],\"instancePublishInfos\":[{}]}"),
                   NC_EINVAL);
  /* an instance without ip, with a string port, with healthy as a string */
  const char *pre = "{\"clientId\":\"c\",\"namespaces\":[\"a\"],\"groupNames\":[\"g\"],"
                    "\"serviceNames\":[\"s\"],\"instancePublishInfos\":[";
  const char *infos[] = {"{\"port\":1}", "{\"ip\":\"1.1.1.1\",\"port\":\"1\"}",
                         "{\"ip\":\"1.1.1.1\",\"port\":1,\"healthy\":\"yes\"}",
                         "{\"ip\":\"1.1.1.1\",\"port\":1,\"extendDatum\":[]}",
                         "{\"ip\":\"1.1.1.1\",\"port\":1,\"extendDatum\":"
                         "{\"publishInstanceWeight\":\"2\"}}",
                         "7"};
  for (size_t i = 0; i < sizeof(infos) / sizeof(infos[0]); i++) {
    char buf[512];
    snprintf(buf, sizeof(buf), "%s%s]}", pre, infos[i]);
    assert_int_equal(bad(buf), NC_EINVAL);
  }
  /* a batch whose inner list is not an array */
  assert_int_equal(bad("{\"clientId\":\"c\",\"batchInstanceData\":{\"namespaces\":[\"a\"],"
                       "\"groupNames\":[\"g\"],\"serviceNames\":[\"s\"],"
                       "\"batchInstancePublishInfos\":[{\"instancePublishInfos\":{}}]}}"),
                   NC_EINVAL);
  assert_int_equal(bad("{\"clientId\":\"c\",\"batchInstanceData\":[]}"), NC_EINVAL);
  /* minimal valid: no publications (and blank group means DEFAULT_GROUP) */
  assert_int_equal(bad("{\"clientId\":\"c\",\"batchInstanceData\":{}}"), 0);
}

static void test_base64(void **state) {
  (void)state;
  const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  const char *want[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  for (int i = 0; i < 7; i++) {
    char *e = nc_b64_encode((const unsigned char *)in[i], strlen(in[i]));
    assert_string_equal(e, want[i]);
    unsigned char *d = NULL;
    size_t n = 0;
    assert_int_equal(nc_b64_decode(e, &d, &n), 0);
    assert_int_equal(n, strlen(in[i]));
    assert_memory_equal(d, in[i], n);
    free(d);
    free(e);
  }
  const char *badb[] = {"Zg=", "Z===", "Zm9v!A==", "=Zm9", "Zg==Zg==", "Zm\n9v"};
  for (int i = 0; i < 6; i++) {
    unsigned char *d = (unsigned char *)"x";
    size_t n = 9;
    assert_int_equal(nc_b64_decode(badb[i], &d, &n), NC_EINVAL);
    assert_null(d);
  }
}

static void test_request_response(void **state) {
  (void)state;
  cJSON *content = cJSON_Parse("{\"clientId\":\"c1\",\"revision\":4}");
  cJSON *rq = nc_distro_request("VERIFY", NULL, "c1", NULL, content, "10.0.0.1:8848");
  /* §3.3 shape */
  const cJSON *dd = cJSON_GetObjectItemCaseSensitive(rq, "distroData");
  const cJSON *dk = cJSON_GetObjectItemCaseSensitive(dd, "distroKey");
  assert_string_equal(nc_json_str(dk, "resourceType", ""), "Nacos:Naming:v2:ClientData");
  assert_string_equal(nc_json_str(dk, "resourceKey", ""), "c1");
  assert_null(cJSON_GetObjectItemCaseSensitive(dk, "targetServer"));
  assert_string_equal(nc_json_str(dd, "type", ""), "VERIFY");
  assert_string_equal(nc_json_str(rq, "dataOperation", ""), "VERIFY");
  assert_string_equal(nc_json_str(rq, "module", ""), "cluster");
  assert_true(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(rq, "headers")));
  assert_string_equal(nc_json_str(dd, "content", ""),
                      "eyJjbGllbnRJZCI6ImMxIiwicmV2aXNpb24iOjR9");
  nc_distro_req req;
  const char *err = NULL;
  assert_int_equal(nc_distro_parse_request(rq, &req, &err), 0);
  assert_string_equal(req.op, "VERIFY");
  assert_string_equal(req.key, "c1");
  assert_string_equal(req.owner, "10.0.0.1:8848");
  const char *id = NULL;
  uint64_t rev = 0;
  assert_int_equal(nc_distro_parse_verify_info(req.content, &id, &rev, &err), 0);
  assert_string_equal(id, "c1");
  assert_int_equal(rev, 4);
  nc_distro_req_clear(&req);
  cJSON_Delete(rq);
  /* SNAPSHOT: only dataOperation */
  rq = nc_distro_request("SNAPSHOT", NULL, NULL, NULL, NULL, NULL);
  assert_null(cJSON_GetObjectItemCaseSensitive(rq, "distroData"));
  assert_int_equal(nc_distro_parse_request(rq, &req, &err), 0);
  assert_string_equal(req.op, "SNAPSHOT");
  assert_null(req.content);
  nc_distro_req_clear(&req);
  cJSON_Delete(rq);
  /* a response with distroData, read back */
  cJSON *resp = nc_resp_ok();
  assert_int_equal(nc_distro_response_add(resp, "SNAPSHOT", NULL, content), 0);
  cJSON *back = NULL;
  assert_int_equal(nc_distro_response_content(resp, &back, &err), 0);
  assert_true(cJSON_Compare(back, content, 1));
  cJSON_Delete(back);
  cJSON_Delete(resp);
  cJSON_Delete(content);
}

static int bad_req(const char *txt) {
  cJSON *j = cJSON_Parse(txt);
  nc_distro_req req;
  const char *err = NULL;
  int rc = nc_distro_parse_request(j, &req, &err);
  if (rc)
    assert_non_null(err);
  nc_distro_req_clear(&req);
  cJSON_Delete(j);
  return rc;
}

static void test_bad_requests_refused(void **state) {
  (void)state;
  assert_int_equal(bad_req("{}"), NC_EINVAL);
  assert_int_equal(bad_req("{\"dataOperation\":7}"), NC_EINVAL);
  assert_int_equal(bad_req("{\"dataOperation\":\"CHANGE\",\"distroData\":\"x\"}"), NC_EINVAL);
  assert_int_equal(bad_req("{\"dataOperation\":\"CHANGE\",\"distroData\":{\"distroKey\":"
                           "{\"resourceKey\":1}}}"),
                   NC_EINVAL);
  assert_int_equal(bad_req("{\"dataOperation\":\"CHANGE\",\"distroData\":{\"content\":5}}"),
                   NC_EINVAL);
  assert_int_equal(bad_req("{\"dataOperation\":\"CHANGE\",\"distroData\":{\"content\":\"%%%\"}}"),
                   NC_EINVAL);
  /* valid base64 of "not json" */
  assert_int_equal(bad_req("{\"dataOperation\":\"CHANGE\",\"distroData\":{\"content\":"
                           "\"bm90IGpzb24=\"}}"),
                   NC_EINVAL);
  const char *err = NULL, *id = NULL;
  uint64_t rev = 0;
  cJSON *v = cJSON_Parse("{\"clientId\":\"c\",\"revision\":-1}");
  assert_int_equal(nc_distro_parse_verify_info(v, &id, &rev, &err), NC_EINVAL);
  cJSON_Delete(v);
  v = cJSON_Parse("{\"revision\":1}");
  assert_int_equal(nc_distro_parse_verify_info(v, &id, &rev, &err), NC_EINVAL);
  cJSON_Delete(v);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixture_applies_with_extend_datum),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_bad_sync_data_refused),
      cmocka_unit_test(test_base64),
      cmocka_unit_test(test_request_response),
      cmocka_unit_test(test_bad_requests_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* loader_itest: helpers of the loader API tests (test_loader_*.c),
 * header-only: one HTTP/1.1 request of any method to a node (the token as
 * the accessToken header when given), the answer parsed as JSON, and the
 * JSON shape checks the Nacos references demand. */
#ifndef LOADER_ITEST_H
#define LOADER_ITEST_H

#include "cluster_itest.h"
#include "nc_json.h"
#include "nc_testwait.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* method path on host:port (Connection: close); body (may be NULL) is
 * sent as a form. Returns the status (-1 on a transport failure); *out
 * (may be NULL) gets the body, malloc'ed. */
static inline int lit_http(const char *host, int port, const char *method, const char *path,
                           const char *form, const char *token, char **out) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  if (out)
    *out = NULL;
  if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
      connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
    goto out;
  char head[4096];
  int n = snprintf(head, sizeof(head),
                   "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n%s%s%s"
                   "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n",
                   method, path, host, port, token ? "accessToken: " : "", token ? token : "",
                   token ? "\r\n" : "", form ? strlen(form) : 0);
  if (write(fd, head, (size_t)n) != n || (form && write(fd, form, strlen(form)) < 0))
    goto out;
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, nc_test_timeout_ms(15000)) <= 0)
      goto out;
    if (len + 4096 + 1 > cap) {
      char *nb = realloc(buf, cap = cap * 2 + 8192);
      if (!nb)
        goto out;
      buf = nb;
    }
    ssize_t r = read(fd, buf + len, cap - len - 1);
    if (r < 0)
      goto out;
    if (r == 0)
      break;
    len += (size_t)r;
  }
  buf[len] = '\0';
  if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
    status = -1;
  char *body = strstr(buf, "\r\n\r\n");
  if (out && body)
    *out = strdup(body + 4);
out:
  free(buf);
  if (fd >= 0)
    close(fd);
  return status;
}

/* The same on node i of c, the body parsed (NULL when not JSON). */
static inline cJSON *lit_json(const nc_tcluster *c, int i, const char *method, const char *path,
                              const char *form, const char *token, int *status) {
  const nc_test_nacosd *s = nc_tcluster_node(c, i);
  char *body = NULL;
  int st = lit_http(s->host, s->port, method, path, form, token, &body);
  cJSON *j = body ? cJSON_Parse(body) : NULL;
  free(body);
  if (status)
    *status = st;
  return j;
}

/* The v3 Result envelope: code, message and data as Nacos writes them. */
static inline const cJSON *lit_v3_data(const cJSON *res, int code) {
  assert_non_null(res);
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(res, "code");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(res, "message");
  assert_true(cJSON_IsNumber(c));
  assert_int_equal(c->valueint, code);
  assert_true(cJSON_IsString(m));
  if (code == 0)
    assert_string_equal(m->valuestring, "success");
  return cJSON_GetObjectItemCaseSensitive(res, "data");
}

static inline void lit_expect_type(const cJSON *o, const char *key, int (*is)(const cJSON *)) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!v || !is(v))
    fail_msg("field '%s' missing or of the wrong type", key);
}
#define LIT_STR(o, k) lit_expect_type(o, k, cJSON_IsString)
#define LIT_NUM(o, k) lit_expect_type(o, k, cJSON_IsNumber)
#define LIT_BOOL(o, k) lit_expect_type(o, k, cJSON_IsBool)
#define LIT_OBJ(o, k) lit_expect_type(o, k, cJSON_IsObject)
#define LIT_ARR(o, k) lit_expect_type(o, k, cJSON_IsArray)

/* One Connection of /current (nacos-cluster.md §5.3), 2.x or 3.x. */
static inline void lit_check_connection(const cJSON *conn, int v3) {
  LIT_BOOL(conn, "traced");
  LIT_OBJ(conn, "abilityTable");
  LIT_OBJ(conn, "labels");
  LIT_OBJ(conn, "appLabels");
  LIT_BOOL(conn, "connected");
  LIT_OBJ(conn, "metaInfo");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(conn, "metaInfo");
  static const char *const strs[] = {"connectType", "clientIp", "remoteIp", "version",
                                     "connectionId", "createTime", "appName"};
  for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
    LIT_STR(m, strs[i]);
  LIT_NUM(m, "remotePort");
  LIT_NUM(m, "localPort");
  LIT_NUM(m, "lastActiveTime");
  LIT_OBJ(m, "labels");
  LIT_OBJ(m, "appLabels");
  LIT_BOOL(m, "sdkSource");
  LIT_BOOL(m, "clusterSource");
  LIT_BOOL(m, "tlsProtected");
  LIT_STR(m, v3 ? "namespaceId" : "tenant");
  assert_false(cJSON_HasObjectItem(m, v3 ? "tenant" : "namespaceId"));
  /* ISO-8601 with millis and offset: 2024-03-01T14:12:26.800+08:00 */
  int y, mo, d, h, mi, s, ms, oh, om;
  char sign;
  assert_int_equal(sscanf(nc_json_str(m, "createTime", ""), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c%2d:%2d",
                          &y, &mo, &d, &h, &mi, &s, &ms, &sign, &oh, &om),
                   10);
  assert_true(sign == '+' || sign == '-');
  assert_true(nc_json_num(m, "lastActiveTime", 0) > 1.6e12);
  assert_string_equal(nc_json_str(m, "connectType", ""), "GRPC");
}

#endif

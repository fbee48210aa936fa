/* Shared helpers of the HTTP config / core API tests (test_http_cfg_*.c,
 * test_http_core_*.c; header-only, static): requests to one nacosd's main
 * port on 127.0.0.1 with the status asserted, JSON field readers that fail
 * the test on a missing field, and a raw v1 long-poll held on its own
 * socket. */
#ifndef HTTP_CFG_ITEST_H
#define HTTP_CFG_ITEST_H

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nc_testfx.h"
#include "nc_testhttp.h"

/* cmocka setup / teardown: one nacosd (nc_testfx) per test. */
static inline int hci_setup(void **st) {
  nc_tfx *f = NULL;
  int rc = nc_tfx_start(NULL, &f);
  *st = f;
  return rc ? -1 : 0;
}
static inline int hci_teardown(void **st) { return nc_tfx_stop(*st) == 0 ? 0 : -1; }

/* One request (form may be NULL); the status, *body the answer (static,
 * overwritten by the next call; "" when none). */
static inline int hci_req(int port, const char *method, const char *path, const char *form,
                          const char **body) {
  static char *last;
  int status = 0;
  free(last);
  last = NULL;
  assert_int_equal(nc_test_http_req(port, method, path, form, NULL, &status, &last), 0);
  if (body)
    *body = last ? last : "";
  return status;
}

/* A JSON answer with the status asserted; the caller frees it. */
static inline cJSON *hci_json(int port, const char *method, const char *path, int status) {
  const char *b;
  int st = hci_req(port, method, path, NULL, &b);
  if (st != status)
    fprintf(stderr, "%s %s: %d %s\n", method, path, st, b);
  assert_int_equal(st, status);
  cJSON *j = cJSON_Parse(b);
  assert_non_null(j);
  return j;
}

/* A v2/v3 Result envelope: status and code asserted, message a string,
 * data present; the caller frees it. */
static inline cJSON *hci_env(int port, const char *method, const char *path, int status,
                             int code) {
  cJSON *j = hci_json(port, method, path, status);
  assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "code")), code);
  assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "message")));
  assert_non_null(cJSON_GetObjectItem(j, "data"));
  return j;
}

/* o's string field k (the test fails when it is absent or not a string). */
static inline const char *hci_str(const cJSON *o, const char *k) {
  const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
  if (!s)
    fprintf(stderr, "no string %s\n", k);
  assert_non_null(s);
  return s;
}

/* o's number field k (the test fails when it is absent or not a number). */
static inline double hci_num(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  assert_true(cJSON_IsNumber(v));
  return cJSON_GetNumberValue(v);
}

/* A v1 long-poll (Long-Pulling-Timeout 30 s) with the urlencoded
 * Listening-Configs value keys, sent on its own socket to 127.0.0.1:port;
 * returns the socket for hci_poll_answer. */
static inline int hci_poll_send(int port, const char *keys) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  char msg[1024];
  int n = snprintf(msg, sizeof(msg),
                   "POST /nacos/v1/cs/configs/listener HTTP/1.1\r\nHost: x\r\n"
                   "Long-Pulling-Timeout: 30000\r\nConnection: close\r\n"
                   "Content-Type: application/x-www-form-urlencoded\r\n"
                   "Content-Length: %zu\r\n\r\nListening-Configs=%s",
                   strlen("Listening-Configs=") + strlen(keys), keys);
  assert_true(n > 0 && (size_t)n < sizeof(msg));
  assert_int_equal(send(fd, msg, (size_t)n, 0), n);
  return fd;
}

/* Reads the poll's whole answer (status line, headers, body) into buf and
 * closes the socket. */
static inline const char *hci_poll_answer(int fd, char *buf, size_t cap) {
  size_t len = 0;
  ssize_t k;
  while (len + 1 < cap && (k = read(fd, buf + len, cap - 1 - len)) > 0)
    len += (size_t)k;
  buf[len] = '\0';
  close(fd);
  return buf;
}

#endif

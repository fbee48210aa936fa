/* Foundations: error names, option table (CLI, config file, ranges), JSON
 * accessors, and the thread -> loop event queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_err.h"
#include "nc_evq.h"
#include "nc_json.h"
#include "nc_opts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_error_names_and_messages(void **state) {
  (void)state;
  assert_string_equal(nc_err_name(NC_ETIMEOUT), "ETIMEOUT");
  assert_string_equal(nc_strerror(NC_ECLOSED), "connection closed");
  assert_string_equal(nc_strerror(12345), "unknown error");
  assert_true(NC_ENOMEM < 0);
}

typedef struct {
  char *name;
  long port;
  int verbose;
  double ratio;
} cfg_t;

static const nc_opt table[] = {
    {"name", NC_OPT_STR, "anon", offsetof(cfg_t, name), 0, -1, "a name"},
    {"port", NC_OPT_INT, "8848", offsetof(cfg_t, port), 0, 65535, "a port"},
    {"verbose", NC_OPT_BOOL, "false", offsetof(cfg_t, verbose), 0, -1, "talk more"},
    {"ratio", NC_OPT_DOUBLE, "0.5", offsetof(cfg_t, ratio), 0, -1, "a ratio"},
};
#define NT (sizeof(table) / sizeof(table[0]))

static void test_opts_defaults_file_then_cli(void **state) {
  (void)state;
  char path[] = "/tmp/nc_opts_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char *body = "# comment\nname = from-file\nport = 9000 # trailing\nverbose = yes\n";
  assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
  close(fd);
  cfg_t c = {0};
  char *argv[] = {"prog", "--config", path, "--port=7000", NULL};
  assert_int_equal(nc_opts_parse(table, NT, &c, 4, argv, "prog", ""), NC_OPTS_CONTINUE);
  assert_string_equal(c.name, "from-file");
  assert_int_equal(c.port, 7000); /* the command line wins over the file */
  assert_true(c.verbose);
  assert_true(c.ratio == 0.5);
  nc_opts_free(table, NT, &c);
  unlink(path);
}

static void test_opts_rejects_bad_values_and_unknown_names(void **state) {
  (void)state;
  cfg_t c = {0};
  char *a1[] = {"prog", "--port", "70000", NULL};
  assert_int_equal(nc_opts_parse(table, NT, &c, 3, a1, "prog", ""), NC_EINVAL);
  char *a2[] = {"prog", "--nope", "1", NULL};
  assert_int_equal(nc_opts_parse(table, NT, &c, 3, a2, "prog", ""), NC_EINVAL);
  char *a3[] = {"prog", "--port", "12x", NULL};
  assert_int_equal(nc_opts_parse(table, NT, &c, 3, a3, "prog", ""), NC_EINVAL);
  char *a4[] = {"prog", "--port", NULL};
  assert_int_equal(nc_opts_parse(table, NT, &c, 2, a4, "prog", ""), NC_EINVAL);
  nc_opts_free(table, NT, &c);
}

static void test_json_getters_default_on_mistype(void **state) {
  (void)state;
  cJSON *o = cJSON_Parse("{\"s\":\"x\",\"n\":1732200000123,\"b\":\"true\",\"z\":null,\"w\":5}");
  assert_string_equal(nc_json_str(o, "s", "d"), "x");
  assert_string_equal(nc_json_str(o, "w", "d"), "d");
  assert_true(nc_json_int(o, "n", 0) == 1732200000123LL);
  assert_int_equal(nc_json_bool(o, "b", 0), 1);
  assert_int_equal(nc_json_bool(o, "z", 7), 7);
  assert_int_equal(nc_json_mistyped(o, "w", cJSON_String), 1);
  assert_int_equal(nc_json_mistyped(o, "z", cJSON_String), 0);
  assert_int_equal(nc_json_add_str(o, "none", NULL), 0);
  assert_null(cJSON_GetObjectItem(o, "none"));
  cJSON_Delete(o);
}

typedef struct {
  nc_evq_node node;
  int value;
} item_t;

typedef struct {
  int seen, last, in_order;
  uv_loop_t *loop;
  nc_evq *q;
} sink_t;

static void on_item(void *ud, nc_evq_node *n) {
  sink_t *s = ud;
  item_t *it = (item_t *)n;
  if (it->value != s->last + 1)
    s->in_order = 0;
  s->last = it->value;
  s->seen++;
  free(it);
  if (s->seen == 20000)
    nc_evq_close(s->q, NULL);
}

static void *producer(void *arg) {
  nc_evq *q = arg;
  for (int i = 1; i <= 20000; i++) {
    item_t *it = calloc(1, sizeof(*it));
    it->value = i;
    if (nc_evq_push(q, &it->node) != 0)
      free(it);
  }
  return NULL;
}

static void test_evq_delivers_in_order_across_threads(void **state) {
  (void)state;
  uv_loop_t loop;
  uv_loop_init(&loop);
  sink_t s = {.in_order = 1, .loop = &loop};
  assert_int_equal(nc_evq_new(&loop, on_item, &s, &s.q), 0);
  pthread_t t;
  pthread_create(&t, NULL, producer, s.q);
  uv_run(&loop, UV_RUN_DEFAULT); /* returns once the queue closed itself */
  pthread_join(t, NULL);
  assert_int_equal(s.seen, 20000);
  assert_true(s.in_order);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_names_and_messages),
      cmocka_unit_test(test_opts_defaults_file_then_cli),
      cmocka_unit_test(test_opts_rejects_bad_values_and_unknown_names),
      cmocka_unit_test(test_json_getters_default_on_mistype),
      cmocka_unit_test(test_evq_delivers_in_order_across_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

/* nacosctl's user administration (user / role / permission / login)
 * against a real nacosd with auth on, over its HTTP port (--server, no
 * agent): the admin's first password set through nacosctl, a user created
 * and granted read-only on a namespace, checked through the server's gRPC
 * port (reads pass, writes get 403), then deleted; a wrong password, a
 * world-readable password file, a non-admin's token and an unreachable
 * server each get their own exit code and message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "nc_grpc.h"
#include "nc_testfx.h"
#include "nc_testproc.h"
#include "nc_testrun.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct ctx {
  nc_tfx *f;
  char dir[256], server[64];
} ctx;

static int setup(void **state) {
  static const char *const args[] = {"--auth", "on", NULL};
  ctx *c = calloc(1, sizeof(*c));
  assert_int_equal(nc_tfx_start(args, &c->f), 0);
  assert_int_equal(nc_test_mkdtemp(c->dir, sizeof(c->dir)), 0);
  snprintf(c->server, sizeof(c->server), "127.0.0.1:%d", c->f->srv->port);
  *state = c;
  return 0;
}

static int teardown(void **state) {
  ctx *c = *state;
  char cmd[300];
  int rc = nc_tfx_stop(c->f);
  snprintf(cmd, sizeof(cmd), "rm -rf %s", c->dir);
  if (system(cmd) != 0)
    rc = -1;
  free(c);
  return rc == 0 ? 0 : -1;
}

/* <dir>/name holding line, at mode; the path in out. */
static const char *secret(ctx *c, const char *name, const char *line, mode_t mode, char *out,
                          size_t cap) {
  snprintf(out, cap, "%s/%s", c->dir, name);
  FILE *fp = fopen(out, "w");
  assert_non_null(fp);
  fprintf(fp, "%s\n", line);
  fclose(fp);
  assert_int_equal(chmod(out, mode), 0);
  return out;
}

/* Runs nacosctl with args (NULL-terminated); its exit code, output in p. */
static int ctl(nc_trun *p, const char *const *args) {
  const char *argv[32] = {NC_NACOSCTL_BIN};
  int n = 1;
  for (int k = 0; args[k] && n < 31; k++)
    argv[n++] = args[k];
  argv[n] = NULL;
  assert_int_equal(nc_trun_spawn(p, argv, NULL, NULL), 0);
  int rc = nc_trun_finish(p, 20000);
  if (getenv("NC_TEST_VERBOSE"))
    fprintf(stderr, "nacosctl %s ...: %d\n--out--\n%s--err--\n%s\n", args[0], rc, p->obuf,
            p->ebuf);
  return rc;
}

static void test_admin_user_role_permission_lifecycle(void **state) {
  ctx *c = *state;
  nc_trun p;
  char adm[300], bad[300], loose[300], alice_pw[300], tok[300], alice_tok[300];
  const char *S = c->server;
  secret(c, "admin.pw", "Adm1n-pw!", 0600, adm, sizeof(adm));
  secret(c, "bad.pw", "not-it", 0600, bad, sizeof(bad));
  secret(c, "loose.pw", "Adm1n-pw!", 0644, loose, sizeof(loose));
  secret(c, "alice.pw", "al1ce pw&=%", 0600, alice_pw, sizeof(alice_pw));

  /* No admin password yet: no one logs in, and nacosctl says why. */
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", S, "--username", "nacos",
                                            "--password-file", adm, NULL}),
                   4);
  assert_non_null(strstr(p.ebuf, "no password yet"));
  /* A password file others can read is refused before anything is sent. */
  assert_int_equal(ctl(&p, (const char *[]){"user", "init-admin", "--server", S,
                                            "--new-password-file", loose, NULL}),
                   2);
  assert_non_null(strstr(p.ebuf, "chmod 600"));
  /* The first password, set through nacosctl; only once. */
  assert_int_equal(ctl(&p, (const char *[]){"user", "init-admin", "--server", S,
                                            "--new-password-file", adm, NULL}),
                   0);
  assert_int_equal(ctl(&p, (const char *[]){"user", "init-admin", "--server", S,
                                            "--new-password-file", bad, NULL}),
                   1);
  assert_non_null(strstr(p.ebuf, "already has a password"));
  /* wrong password: refused (exit 4); the right one logs in */
  assert_int_equal(ctl(&p, (const char *[]){"login", "--server", S, "--username", "nacos",
                                            "--password-file", bad, NULL}),
                   4);
  assert_non_null(strstr(p.ebuf, "login of nacos refused"));
  assert_int_equal(ctl(&p, (const char *[]){"login", "--server", S, "--username", "nacos",
                                            "--password-file", adm, NULL}),
                   0);
  p.obuf[strcspn(p.obuf, "\n")] = '\0';
  assert_true(strlen(p.obuf) > 20);
  secret(c, "admin.tok", p.obuf, 0600, tok, sizeof(tok));
  /* without credentials: refused, and told how to log in */
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", S, NULL}), 4);
  assert_non_null(strstr(p.ebuf, "--password-file"));

  /* alice: created, given a role reading namespace dev */
  assert_int_equal(ctl(&p, (const char *[]){"user", "create", "alice", "--new-password-file",
                                            alice_pw, "--server", S, "--token-file", tok, NULL}),
                   0);
  assert_int_equal(ctl(&p, (const char *[]){"user", "create", "alice", "--new-password-file",
                                            alice_pw, "--server", S, "--token-file", tok, NULL}),
                   1);
  assert_non_null(strstr(p.ebuf, "already exist"));
  assert_int_equal(ctl(&p, (const char *[]){"role", "add", "ROLE_DEVRO", "alice", "--server", S,
                                            "--username", "nacos", "--password-file", adm, NULL}),
                   0);
  assert_int_equal(ctl(&p, (const char *[]){"permission", "add", "ROLE_DEVRO", "dev:*:*", "r",
                                            "--server", S, "--token-file", tok, NULL}),
                   0);
  /* listings: text and --json */
  assert_int_equal(
      ctl(&p, (const char *[]){"user", "list", "--server", S, "--token-file", tok, NULL}), 0);
  assert_non_null(strstr(p.obuf, "USERNAME"));
  assert_non_null(strstr(p.obuf, "alice"));
  assert_non_null(strstr(p.obuf, "nacos"));
  assert_int_equal(ctl(&p, (const char *[]){"--json", "role", "list", "alice", "--server", S,
                                            "--token-file", tok, NULL}),
                   0);
  assert_non_null(strstr(p.obuf, "{\"role\":\"ROLE_DEVRO\",\"username\":\"alice\"}\n"));
  assert_null(strstr(p.obuf, "ROLE_ADMIN"));
  assert_int_equal(ctl(&p, (const char *[]){"permission", "list", "ROLE_DEVRO", "--server", S,
                                            "--token-file", tok, "--json", NULL}),
                   0);
  assert_non_null(
      strstr(p.obuf, "{\"role\":\"ROLE_DEVRO\",\"resource\":\"dev:*:*\",\"action\":\"r\"}"));

  /* alice logs in through nacosctl (her password has & = %: form-encoded) */
  assert_int_equal(ctl(&p, (const char *[]){"login", "--json", "--server", S, "--username",
                                            "alice", "--password-file", alice_pw, NULL}),
                   0);
  cJSON *j = cJSON_Parse(p.obuf);
  assert_non_null(j);
  assert_false(cJSON_IsTrue(cJSON_GetObjectItem(j, "globalAdmin")));
  secret(c, "alice.tok", cJSON_GetObjectItem(j, "accessToken")->valuestring, 0600, alice_tok,
         sizeof(alice_tok));
  char atoken[2048];
  snprintf(atoken, sizeof(atoken), "%s", cJSON_GetObjectItem(j, "accessToken")->valuestring);
  cJSON_Delete(j);
  /* ... but may not administer */
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", S, "--token-file",
                                            alice_tok, NULL}),
                   4);
  assert_non_null(strstr(p.ebuf, "needs an admin"));

  /* Through the server: the admin writes in dev, alice reads it, her
   * write is refused. */
  p.obuf[0] = '\0';
  assert_int_equal(ctl(&p, (const char *[]){"login", "--server", S, "--username", "nacos",
                                            "--password-file", adm, NULL}),
                   0);
  char admin_token[2048];
  snprintf(admin_token, sizeof(admin_token), "%.*s", (int)strcspn(p.obuf, "\n"), p.obuf);
  nc_tw_opts ao = {.module = "config", .access_token = admin_token};
  nc_tw_opts uo = {.module = "config", .access_token = atoken};
  nc_tw *admin = nc_tfx_connect(c->f, &ao), *alice = nc_tfx_connect(c->f, &uo);
  assert_non_null(admin);
  assert_non_null(alice);
  const char *rt = "ConfigPublishResponse";
  nc_tw_expect_ok(nc_tw_config_publish(admin, "app.yaml", "G", "dev", "k: v", NULL), rt);
  nc_tw_config cfg = {0};
  nc_tw_expect_ok(nc_tw_config_get(alice, "app.yaml", "G", "dev", &cfg), "ConfigQueryResponse");
  assert_string_equal(cfg.content, "k: v");
  nc_tw_config_free(&cfg);
  nc_tw_expect_fail(nc_tw_config_publish(alice, "app.yaml", "G", "dev", "mine", NULL), rt, 403,
                    NULL);
  /* and outside dev she reads nothing */
  nc_tw_expect_ok(nc_tw_config_publish(admin, "app.yaml", "G", "prod", "p", NULL), rt);
  nc_tw_reply r = nc_tw_config_get(alice, "app.yaml", "G", "prod", NULL);
  assert_int_equal(r.error_code, 403);

  /* permission and role taken away, then the user */
  assert_int_equal(ctl(&p, (const char *[]){"permission", "delete", "ROLE_DEVRO", "dev:*:*", "r",
                                            "--server", S, "--token-file", tok, NULL}),
                   0);
  assert_int_equal(ctl(&p, (const char *[]){"role", "delete", "ROLE_DEVRO", "alice", "--server",
                                            S, "--token-file", tok, NULL}),
                   0);
  assert_int_equal(ctl(&p, (const char *[]){"user", "delete", "alice", "--server", S,
                                            "--token-file", tok, NULL}),
                   0);
  assert_int_equal(ctl(&p, (const char *[]){"user", "delete", "alice", "--server", S,
                                            "--token-file", tok, NULL}),
                   1);
  assert_non_null(strstr(p.ebuf, "not found"));
  assert_int_equal(ctl(&p, (const char *[]){"login", "--server", S, "--username", "alice",
                                            "--password-file", alice_pw, NULL}),
                   4);
  /* the admin changes its own password */
  char adm2[300];
  secret(c, "admin2.pw", "S3cond-pw", 0600, adm2, sizeof(adm2));
  assert_int_equal(ctl(&p, (const char *[]){"user", "password", "nacos", "--new-password-file",
                                            adm2, "--server", S, "--token-file", tok, NULL}),
                   0);
  assert_int_equal(ctl(&p, (const char *[]){"login", "--server", S, "--username", "nacos",
                                            "--password-file", adm, NULL}),
                   4);
  assert_int_equal(ctl(&p, (const char *[]){"login", "--server", S, "--username", "nacos",
                                            "--password-file", adm2, NULL}),
                   0);
}

static void test_unreachable_server_exit_3(void **state) {
  ctx *c = *state;
  nc_trun p;
  char adm[300];
  secret(c, "x.pw", "x", 0600, adm, sizeof(adm));
  /* port 1 on loopback: nothing listens */
  assert_int_equal(ctl(&p, (const char *[]){"user", "list", "--server", "127.0.0.1:1",
                                            "--username", "nacos", "--password-file", adm, NULL}),
                   3);
  assert_non_null(strstr(p.ebuf, "cannot connect to 127.0.0.1:1"));
  assert_int_equal(ctl(&p, (const char *[]){"role", "list", "--server", "nohostport", NULL}), 3);
  assert_non_null(strstr(p.ebuf, "bad server address"));
}

int main(void) {
  nc_grpc_init();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_admin_user_role_permission_lifecycle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unreachable_server_exit_3, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  nc_grpc_shutdown();
  return rc;
}

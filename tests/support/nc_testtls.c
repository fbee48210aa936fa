/* nc_testtls: see nc_testtls.h. */
#include "nc_testtls.h"

#include "nc_err.h"
#include "nc_testproc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nc_test_tls_available(void) {
  return system("command -v openssl >/dev/null 2>&1") == 0;
}

/* Runs one shell command, its output appended to <dir>/openssl.log. */
static int run(const nc_test_tls *t, const char *cmd) {
  char full[2048];
  int n = snprintf(full, sizeof(full), "cd '%s' && ( %s ) >>openssl.log 2>&1", t->dir, cmd);
  if (n < 0 || (size_t)n >= sizeof(full))
    return NC_EINVAL;
  return system(full) == 0 ? 0 : NC_EIO;
}

/* Writes an extensions file for a leaf certificate that serves as TLS
 * server and client (cluster members use one certificate both ways). */
static int write_ext(const nc_test_tls *t) {
  char path[128];
  snprintf(path, sizeof(path), "%s/leaf.ext", t->dir);
  FILE *f = fopen(path, "w");
  if (!f)
    return NC_EIO;
  fprintf(f, "basicConstraints=CA:FALSE\n"
             "keyUsage=digitalSignature\n"
             "extendedKeyUsage=serverAuth,clientAuth\n"
             "subjectAltName=DNS:localhost");
  for (int i = 1; i <= 9; i++)
    fprintf(f, ",IP:127.0.0.%d", i);
  fprintf(f, "\n");
  int rc = fclose(f) == 0 ? 0 : NC_EIO;
  snprintf(path, sizeof(path), "%s/client.ext", t->dir);
  f = fopen(path, "w");
  if (!f)
    return NC_EIO;
  fprintf(f, "basicConstraints=CA:FALSE\n"
             "keyUsage=digitalSignature\n"
             "extendedKeyUsage=clientAuth\n");
  if (fclose(f) != 0)
    rc = NC_EIO;
  return rc;
}

/* A self-signed CA: <name>.crt / <name>.key. */
static int make_ca(const nc_test_tls *t, const char *name, const char *cn) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=%s' "
           "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign "
           "-keyout %s.key -out %s.crt",
           cn, name, name);
  return run(t, cmd);
}

/* A leaf <name>.crt / <name>.key signed by CA <ca> with extensions <ext>. */
static int make_leaf(const nc_test_tls *t, const char *name, const char *cn, const char *ca,
                     const char *ext) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd),
           "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj '/CN=%s' -keyout %s.key -out %s.csr && "
           "openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key -days 2 "
           "-extfile %s -out %s.crt",
           cn, name, name, name, ca, ca, ext, name);
  return run(t, cmd);
}

int nc_test_tls_make(nc_test_tls *t) {
  memset(t, 0, sizeof(*t));
  int rc = nc_test_mkdtemp(t->dir, sizeof(t->dir));
  if (rc != 0)
    return rc;
#define NC_TT_PATH(field, file) snprintf(t->field, sizeof(t->field), "%s/" file, t->dir)
  NC_TT_PATH(ca_cert, "ca.crt");
  NC_TT_PATH(ca_key, "ca.key");
  NC_TT_PATH(server_cert, "server.crt");
  NC_TT_PATH(server_key, "server.key");
  NC_TT_PATH(client_cert, "client.crt");
  NC_TT_PATH(client_key, "client.key");
  NC_TT_PATH(other_ca_cert, "otherca.crt");
  NC_TT_PATH(other_ca_key, "otherca.key");
  NC_TT_PATH(other_cert, "other.crt");
  NC_TT_PATH(other_key, "other.key");
#undef NC_TT_PATH
  if ((rc = write_ext(t)) != 0 || (rc = make_ca(t, "ca", "nc-test-ca")) != 0 ||
      (rc = make_leaf(t, "server", "127.0.0.1", "ca", "leaf.ext")) != 0 ||
      (rc = make_leaf(t, "client", "nc-test-client", "ca", "client.ext")) != 0 ||
      (rc = make_ca(t, "otherca", "nc-test-other-ca")) != 0 ||
      (rc = make_leaf(t, "other", "127.0.0.1", "otherca", "leaf.ext")) != 0) {
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "cat '%s/openssl.log' >&2", t->dir);
    if (system(cmd) != 0)
      fprintf(stderr, "nc_test_tls_make: openssl failed in %s\n", t->dir);
    nc_test_tls_free(t);
    return rc;
  }
  return 0;
}

void nc_test_tls_free(nc_test_tls *t) {
  if (t->dir[0])
    nc_test_rmtree(t->dir);
  memset(t, 0, sizeof(*t));
}

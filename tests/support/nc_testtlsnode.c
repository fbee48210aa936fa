/* nc_testtlsnode: see nc_testtlsnode.h. */
#include "nc_testtlsnode.h"

#include "nc_err.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_EXTRA 24

int nc_test_write_line(const char *path, const char *line, mode_t mode) {
  FILE *f = fopen(path, "w");
  if (!f)
    return -1;
  int bad = fprintf(f, "%s\n", line) < 0;
  bad |= fclose(f) != 0;
  return bad || chmod(path, mode) != 0 ? -1 : 0;
}

int nc_test_tls_node_start(nc_test_tls_node *n, const char *admin_pw, int client_ca,
                           const char *const *extra) {
  memset(n, 0, sizeof(*n));
  if (!nc_test_tls_available()) {
    fprintf(stderr, "skipped: needs the openssl command\n");
    return 0;
  }
  int rc = nc_test_tls_make(&n->tls);
  if (rc != 0)
    return rc;
  if (nc_test_mkdtemp(n->dir, sizeof(n->dir)) != 0) {
    rc = NC_EIO;
    goto fail;
  }
  snprintf(n->pw, sizeof(n->pw), "%s/admin.pw", n->dir);
  if (nc_test_write_line(n->pw, admin_pw, 0600) != 0) {
    rc = NC_EIO;
    goto fail;
  }
  const char *args[12 + MAX_EXTRA + 1] = {"--auth",     "on",
                                          "--admin-password-file", n->pw,
                                          "--tls-cert", n->tls.server_cert,
                                          "--tls-key",  n->tls.server_key};
  size_t k = 8;
  if (client_ca) {
    args[k++] = "--tls-client-ca";
    args[k++] = n->tls.ca_cert;
  }
  for (size_t i = 0; extra && extra[i]; i++) {
    if (i >= MAX_EXTRA) {
      rc = NC_EINVAL;
      goto fail;
    }
    args[k++] = extra[i];
  }
  args[k] = NULL;
  nc_test_nacosd_opts o = {.dir = n->dir, .args = args};
  if ((rc = nc_test_nacosd_start_opts(&o, &n->srv)) != 0)
    goto fail;
  n->up = 1;
  return 0;
fail:
  nc_test_tls_node_stop(n);
  return rc < 0 ? rc : NC_EIO;
}

int nc_test_tls_node_stop(nc_test_tls_node *n) {
  int rc = n->up ? nc_test_nacosd_stop(&n->srv) : 0;
  n->up = 0;
  if (n->dir[0])
    nc_test_rmtree(n->dir);
  n->dir[0] = '\0';
  nc_test_tls_free(&n->tls);
  return rc == 0 ? 0 : -1;
}

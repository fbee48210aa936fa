/* nc_testtlsnode: the fixture the TLS integration tests share: certificates
 * made at test time (nc_testtls.h) and one real nacosd with --auth on, an
 * admin password and TLS on its HTTP and SDK gRPC ports.
 *
 * Ownership: the struct holds everything (no heap); nc_test_tls_node_stop()
 * stops nacosd and removes the temp dir and the certificates. Threading:
 * the test's main thread (it forks openssl and nacosd). */
#ifndef NC_TESTTLSNODE_H
#define NC_TESTTLSNODE_H

#include "nc_testproc.h"
#include "nc_testtls.h"

#include <sys/types.h>

typedef struct nc_test_tls_node {
  char dir[256];      /* temp dir: nacosd's data, log, the password file */
  char pw[300];       /* <dir>/admin.pw, mode 0600 */
  nc_test_tls tls;
  nc_test_nacosd srv;
  int up;             /* 1 when nacosd runs; 0: no openssl, the tests skip */
} nc_test_tls_node;

/* Makes the certificates, writes admin_pw to n->pw and starts nacosd with
 * --auth on --admin-password-file --tls-cert --tls-key (server
 * certificate), plus --tls-client-ca (the CA) when client_ca, plus extra
 * (NULL-terminated, may be NULL). 0 with up = 1; 0 with up = 0 when the
 * openssl command is missing (says so on stderr); a negative NC_E* when
 * anything else fails (what is made is removed again). */
int nc_test_tls_node_start(nc_test_tls_node *n, const char *admin_pw, int client_ca,
                           const char *const *extra);

/* Stops nacosd (0 when it exited cleanly, else -1) and removes everything;
 * safe on a zeroed or never-started struct. */
int nc_test_tls_node_stop(nc_test_tls_node *n);

/* Writes line and a newline to path and sets its mode; 0 or -1. */
int nc_test_write_line(const char *path, const char *line, mode_t mode);

/* In a cmocka test: skip when the fixture could not start TLS. */
#define NC_TEST_NEED_TLS(n)                                                                        \
  do {                                                                                             \
    if (!(n)->up) {                                                                                \
      skip();                                                                                      \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

#endif

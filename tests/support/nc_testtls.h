/* nc_testtls: certificates made at test time with the `openssl` command, so
 * that TLS tests need no files in the repo and nothing expires.
 *
 * nc_test_tls_make() creates, in a fresh temp dir:
 *   - a CA (ca_cert / ca_key),
 *   - a server certificate signed by it for CN 127.0.0.1 with IP SANs
 *     127.0.0.1 .. 127.0.0.9 and DNS localhost (server_cert / server_key),
 *     usable as both a TLS server and a TLS client certificate (cluster
 *     members present it both ways),
 *   - a client certificate signed by the same CA, CN "nc-test-client"
 *     (client_cert / client_key),
 *   - a second, unrelated CA (other_ca_cert) and a server+client
 *     certificate signed by it for the same names (other_cert / other_key),
 *     for "wrong CA" tests.
 * All files are PEM; keys are unencrypted EC P-256 (fast to make); certificates are
 * valid for 2 days from now.
 *
 * Threading: call from the test's main thread (it forks openssl).
 * Ownership: the struct owns nothing on the heap; nc_test_tls_free()
 * removes the temp dir and its files. */
#ifndef NC_TESTTLS_H
#define NC_TESTTLS_H

typedef struct nc_test_tls {
  char dir[64];
  char ca_cert[128], ca_key[128];
  char server_cert[128], server_key[128];
  char client_cert[128], client_key[128];
  char other_ca_cert[128], other_ca_key[128];
  char other_cert[128], other_key[128];
} nc_test_tls;

/* 1 when the openssl command is on PATH (tests skip without it). */
int nc_test_tls_available(void);

/* Fills t and makes the files. Returns 0, or a negative NC_E* (the
 * openssl output is in <dir>/openssl.log, dumped to stderr on failure;
 * nothing is left behind). */
int nc_test_tls_make(nc_test_tls *t);

/* Removes t->dir and everything in it; safe on a zeroed struct. */
void nc_test_tls_free(nc_test_tls *t);

#endif

/* nc_testhttp: a tiny blocking HTTP/1.0 GET client for the integration
 * tests (nacosd's /metrics and connection console on 127.0.0.1). */
#ifndef NC_TESTHTTP_H
#define NC_TESTHTTP_H

/* GET path (with query) from 127.0.0.1:port. Returns 0 and sets *status
 * and *body (malloc'ed, NUL-terminated, the caller frees; may be NULL to
 * ignore), or -1 when the connection or the reply failed. */
int nc_test_http_get(int port, const char *path, int *status, char **body);

/* Checks Prometheus text: every sample's name starts with prefix and has a
 * "# HELP name " line and a "# TYPE name counter|gauge" line (counter for
 * names ending in _total). Returns the number of samples, or -1 (with the
 * offending name on stderr). */
int nc_test_metrics_samples(const char *body, const char *prefix);

#endif

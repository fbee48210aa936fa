/* nc_testhttp: a tiny blocking HTTP/1.0 client for the integration
 * tests (nacosd's /metrics and connection console on a loopback address). */
#ifndef NC_TESTHTTP_H
#define NC_TESTHTTP_H

/* GET path (with query) from 127.0.0.1:port. Returns 0 and sets *status
 * and *body (malloc'ed, NUL-terminated, the caller frees; may be NULL to
 * ignore), or -1 when the connection or the reply failed. */
int nc_test_http_get(int port, const char *path, int *status, char **body);
/* The same on host (an IPv4 literal such as "127.3.9.1"; NULL = 127.0.0.1):
 * cluster nodes each listen on their own loopback address. */
int nc_test_http_get_at(const char *host, int port, const char *path, int *status, char **body);
/* Any method on 127.0.0.1:port: form (NULL = none) as an
 * application/x-www-form-urlencoded body, token (NULL = none) as
 * "Authorization: Bearer"; results as nc_test_http_get. */
int nc_test_http_req(int port, const char *method, const char *path, const char *form,
                     const char *token, int *status, char **body);

/* Value of the sample whose line starts with name (full name, e.g.
 * "nacosd_connections") in Prometheus text, or -1 when absent. */
long long nc_test_metric_value(const char *body, const char *name);
/* GET /metrics on host:port and that value; -1 when absent or unreachable. */
long long nc_test_metric_at(const char *host, int port, const char *name);

/* Checks Prometheus text: every sample's name starts with prefix and has a
 * "# HELP name " line and a "# TYPE name counter|gauge" line (counter for
 * names ending in _total). Returns the number of samples, or -1 (with the
 * offending name on stderr). */
int nc_test_metrics_samples(const char *body, const char *prefix);

#endif

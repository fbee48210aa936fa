/* bench_naming: the naming-load pieces bench_ratio and bench_scale share
 * (see bench_util.h): a nacosd spawned for measuring, the query request,
 * serial call timings, a keep-alive stream callback and per-thread
 * context-switch counts. */
#include "bench_util.h"

#include "nc_payload.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pid_t nc_bench_start_bare_nacosd(const char *bin, char *dir, size_t dcap, char *target,
                                 size_t tcap, int *http_port) {
  char data[160];
  if (nc_bench_mkdtemp(dir, dcap, "naming") != 0)
    return -1;
  snprintf(data, sizeof(data), "%s/data", dir);
  const char *extra[] = {"--data-dir", data, "--push-merge-ms", "0", "--grpc-threads", "1",
                         "--max-connections-per-ip", "0", "--max-services-per-conn", "0",
                         "--max-instances-per-conn", "0", NULL};
  return nc_bench_start_nacosd(bin, dir, extra, target, tcap, http_port);
}

int nc_bench_query_payload(const char *svc, uint8_t **out, size_t *len) {
  char json[600];
  int n = snprintf(json, sizeof(json),
                   "{\"namespace\":\"public\",\"serviceName\":\"%s\",\"groupName\":"
                   "\"DEFAULT_GROUP\",\"cluster\":\"\",\"healthyOnly\":false,\"module\":\"naming\"}",
                   svc);
  if (n < 0 || (size_t)n >= sizeof(json))
    return -1;
  return nc_payload_encode("ServiceQueryRequest", "", NULL, 0, json, (size_t)n, out, len) ? -1 : 0;
}

int nc_bench_serial_us(nc_gcli *c, const uint8_t *req, size_t len, int calls, long long *t) {
  int n = 0;
  for (int i = 0; i < calls; i++) {
    uint8_t *resp = NULL;
    size_t rl = 0;
    long long t0 = nc_bench_now_us();
    int rc = nc_gcli_unary(c, req, len, 10000, &resp, &rl);
    long long dt = nc_bench_now_us() - t0;
    free(resp);
    if (rc == 0)
      t[n++] = dt;
  }
  return n;
}

double nc_bench_median_ll(long long *t, int n) {
  if (n <= 0)
    return -1;
  qsort(t, (size_t)n, sizeof(*t), nc_bench_cmp_ll);
  return (double)t[n / 2];
}

void nc_bench_keep_msg(void *ud, const uint8_t *d, size_t l) {
  nc_gcli **c = ud;
  nc_bench_lean_ack(*c, d, l, "NotifySubscriberRequest", "NotifySubscriberResponse");
}

long long nc_bench_ctxsw(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
  DIR *d = opendir(path);
  long long sum = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.')
      continue;
    char p2[400], line[128];
    snprintf(p2, sizeof(p2), "%s/%s/status", path, e->d_name);
    FILE *f = fopen(p2, "r");
    while (f && fgets(line, sizeof(line), f)) {
      long long v;
      if (sscanf(line, "voluntary_ctxt_switches: %lld", &v) == 1 ||
          sscanf(line, "nonvoluntary_ctxt_switches: %lld", &v) == 1)
        sum += v;
    }
    if (f)
      fclose(f);
  }
  if (d)
    closedir(d);
  return sum;
}

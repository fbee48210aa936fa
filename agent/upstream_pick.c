#include "upstream_pick.h"
#include "nc_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nc_upick {
  const nc_server_addr *servers;
  size_t n;
  unsigned seed;
  int *rank;  /* per server: 1 good, 0 unknown, -1 bad */
  int *order; /* this round's order */
  size_t pos; /* next index into order */
};

nc_upick *nc_upick_new(const nc_server_addr *servers, size_t n, unsigned seed) {
  nc_upick *p = calloc(1, sizeof(*p));
  if (!p || !(p->rank = calloc(n ? n : 1, sizeof(int))) ||
      !(p->order = calloc(n ? n : 1, sizeof(int)))) {
    nc_upick_free(p);
    return NULL;
  }
  p->servers = servers;
  p->n = n;
  p->seed = seed;
  p->pos = n; /* no round yet */
  return p;
}

void nc_upick_free(nc_upick *p) {
  if (!p)
    return;
  free(p->rank);
  free(p->order);
  free(p);
}

/* Sort key: lower goes first. */
static int key_of(const nc_upick *p, int i, int avoid) {
  if (i == avoid)
    return 3;
  return 1 - p->rank[i]; /* good 0, unknown 1, bad 2 */
}

void nc_upick_round(nc_upick *p, int avoid) {
  size_t n = p->n;
  for (size_t i = 0; i < n; i++)
    p->order[i] = (int)i;
  /* Shuffle, then a stable insertion sort by rank keeps ties random. */
  for (size_t i = n; i > 1; i--) {
    size_t j = (size_t)rand_r(&p->seed) % i;
    int t = p->order[i - 1];
    p->order[i - 1] = p->order[j];
    p->order[j] = t;
  }
  for (size_t i = 1; i < n; i++) {
    int v = p->order[i], k = key_of(p, v, avoid);
    size_t j = i;
    while (j > 0 && key_of(p, p->order[j - 1], avoid) > k) {
      p->order[j] = p->order[j - 1];
      j--;
    }
    p->order[j] = v;
  }
  p->pos = 0;
}

int nc_upick_next(nc_upick *p) { return p->pos < p->n ? p->order[p->pos++] : -1; }

int nc_upick_rank(const nc_upick *p, int i) {
  return i >= 0 && (size_t)i < p->n ? p->rank[i] : 0;
}

void nc_upick_failed(nc_upick *p, int i) {
  if (i >= 0 && (size_t)i < p->n)
    p->rank[i] = -1;
}

/* The server named "ip:port" (the member's address), or -1. */
static int find_server(const nc_upick *p, const char *ip, int port) {
  for (size_t i = 0; i < p->n; i++)
    if (p->servers[i].port == port && strcmp(p->servers[i].host, ip) == 0)
      return (int)i;
  return -1;
}

int nc_upick_learn(nc_upick *p, const cJSON *members) {
  const cJSON *m;
  int named = 0;
  if (!cJSON_IsArray(members))
    return 0;
  memset(p->rank, 0, p->n * sizeof(int));
  cJSON_ArrayForEach(m, members) {
    int i = find_server(p, nc_json_str(m, "ip", ""), (int)nc_json_int(m, "port", -1));
    if (i < 0)
      continue;
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(m, "extendInfo");
    const cJSON *ready = cJSON_GetObjectItemCaseSensitive(ext, "nc.ready");
    int up = strcmp(nc_json_str(m, "state", ""), "UP") == 0;
    p->rank[i] = up && !cJSON_IsFalse(ready) ? 1 : -1;
    named++;
  }
  return named;
}

#include "hosts.h"

#include <stdlib.h>
#include <string.h>

static int add_str(cJSON *o, const char *k, const cJSON *src, const char *sk, const char *def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, sk);
  return cJSON_AddStringToObject(o, k, cJSON_IsString(v) ? v->valuestring : def) != NULL;
}

static int add_bool(cJSON *o, const char *k, const cJSON *src, const char *sk, int def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, sk);
  int b = cJSON_IsBool(v) ? cJSON_IsTrue(v) : def;
  return cJSON_AddBoolToObject(o, k, b) != NULL;
}

cJSON *nc_hosts_from_service_info(const cJSON *si) {
  cJSON *out = cJSON_CreateArray();
  const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(si, "hosts");
  const cJSON *h;
  if (!out)
    return NULL;
  cJSON_ArrayForEach(h, hosts) {
    const cJSON *port = cJSON_GetObjectItemCaseSensitive(h, "port");
    const cJSON *weight = cJSON_GetObjectItemCaseSensitive(h, "weight");
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(h, "metadata");
    cJSON *o = cJSON_CreateObject();
    cJSON *m = cJSON_CreateObject();
    if (!o || !m)
      goto fail_one;
    const cJSON *e;
    cJSON_ArrayForEach(e, md) {
      if (cJSON_IsString(e) && !cJSON_AddStringToObject(m, e->string, e->valuestring))
        goto fail_one;
    }
    if (!add_str(o, "instance_id", h, "instanceId", "") || !add_str(o, "ip", h, "ip", "") ||
        !cJSON_AddNumberToObject(o, "port", cJSON_IsNumber(port) ? port->valuedouble : 0) ||
        !cJSON_AddNumberToObject(o, "weight", cJSON_IsNumber(weight) ? weight->valuedouble : 1.0) ||
        !add_bool(o, "healthy", h, "healthy", 1) || !add_bool(o, "enabled", h, "enabled", 1) ||
        !add_bool(o, "ephemeral", h, "ephemeral", 1) ||
        !add_str(o, "cluster", h, "clusterName", "DEFAULT"))
      goto fail_one;
    cJSON_AddItemToObject(o, "metadata", m);
    cJSON_AddItemToArray(out, o);
    continue;
  fail_one:
    cJSON_Delete(o);
    cJSON_Delete(m);
    cJSON_Delete(out);
    return NULL;
  }
  return out;
}

static int cluster_ok(const cJSON *h, const cJSON *clusters) {
  if (!cJSON_IsArray(clusters) || cJSON_GetArraySize(clusters) == 0)
    return 1;
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(h, "cluster");
  const cJSON *want;
  cJSON_ArrayForEach(want, clusters) {
    if (cJSON_IsString(want) && cJSON_IsString(c) && !strcmp(want->valuestring, c->valuestring))
      return 1;
  }
  return 0;
}

cJSON *nc_hosts_filter(const cJSON *hosts, const cJSON *clusters, int healthy_only) {
  cJSON *out = cJSON_CreateArray();
  const cJSON *h;
  if (!out)
    return NULL;
  cJSON_ArrayForEach(h, hosts) {
    if (!cluster_ok(h, clusters))
      continue;
    if (healthy_only && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(h, "healthy")))
      continue;
    cJSON *d = cJSON_Duplicate(h, 1);
    if (!d) {
      cJSON_Delete(out);
      return NULL;
    }
    cJSON_AddItemToArray(out, d);
  }
  return out;
}

static uint64_t fnv(const char *s, uint64_t h) {
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

/* Each host is printed canonically and hashed; the per-host hashes are
 * mixed and summed, which makes the result independent of the order the
 * server listed the hosts in (sorting is not needed). */
uint64_t nc_hosts_hash(const cJSON *hosts) {
  uint64_t sum = 0x9e3779b97f4a7c15ULL;
  const cJSON *h;
  size_t n = 0;
  cJSON_ArrayForEach(h, hosts) {
    char *s = cJSON_PrintUnformatted(h);
    uint64_t x = fnv(s ? s : "", 1469598103934665603ULL);
    free(s);
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    sum += x;
    n++;
  }
  sum ^= n * 0xc4ceb9fe1a85ec53ULL;
  return sum ? sum : 1;
}

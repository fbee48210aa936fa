#include "hosts.h"
#include "nc_json.h"

#include <stdlib.h>
#include <string.h>

cJSON *nc_hosts_from_service_info(const cJSON *si) {
  cJSON *out = cJSON_CreateArray();
  const cJSON *hosts = cJSON_GetObjectItemCaseSensitive(si, "hosts");
  const cJSON *h;
  if (!out)
    return NULL;
  cJSON_ArrayForEach(h, hosts) {
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
    if (nc_json_add_str(o, "instance_id", nc_json_str(h, "instanceId", "")) ||
        nc_json_add_str(o, "ip", nc_json_str(h, "ip", "")) ||
        !cJSON_AddNumberToObject(o, "port", nc_json_num(h, "port", 0)) ||
        !cJSON_AddNumberToObject(o, "weight", nc_json_num(h, "weight", 1.0)) ||
        !cJSON_AddBoolToObject(o, "healthy", nc_json_bool(h, "healthy", 1)) ||
        !cJSON_AddBoolToObject(o, "enabled", nc_json_bool(h, "enabled", 1)) ||
        !cJSON_AddBoolToObject(o, "ephemeral", nc_json_bool(h, "ephemeral", 1)) ||
        nc_json_add_str(o, "cluster", nc_json_str(h, "clusterName", "DEFAULT")))
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

long long nc_hosts_ref_time(const cJSON *si) { return nc_json_int(si, "lastRefTime", 0); }

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

/* naming_instance: see naming_instance.h. */
#include "naming_instance.h"

#include "nc_err.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_OUT 1024

/* One allocation per instance (issue 16: registry memory): the fixed
 * fields, then the strings back to back in data[]:
 *   ip \0 cluster \0 [instanceId \0] (key \0 value \0) x n_meta
 * The generated id ip#port#clusterAsReceived#group@@name is not stored:
 * group and name are the service's, known at output, and the cluster as
 * received is the stored one except when it was omitted ("null") or blank. */
enum { GEN_CLUSTER = 0, GEN_NULL = 1, GEN_BLANK = 2 };

struct nc_ninst {
  double weight;
  uint32_t n_meta; /* metadata pairs (all values strings) */
  uint32_t len;    /* bytes used in data[] */
  uint16_t port;
  uint8_t healthy, enabled, ephemeral;
  uint8_t has_id; /* a client-supplied instanceId follows the cluster */
  uint8_t gen;    /* GEN_*: the cluster as received, for the generated id */
  uint16_t o_cluster, o_meta; /* offsets in data[] */
  char data[];
};

static const char *in_ip(const nc_ninst *in) { return in->data; }
static const char *in_id(const nc_ninst *in) {
  return in->has_id ? in->data + in->o_cluster + strlen(in->data + in->o_cluster) + 1 : NULL;
}

/* The stored string value of metadata key, or NULL. */
static const char *meta_get(const nc_ninst *in, const char *key) {
  const char *p = in->data + in->o_meta;
  for (uint32_t i = 0; i < in->n_meta; i++) {
    const char *v = p + strlen(p) + 1;
    if (strcmp(p, key) == 0)
      return v;
    p = v + strlen(v) + 1;
  }
  return NULL;
}

static long meta_long_in(const nc_ninst *in, const char *key, long def) {
  const char *v = meta_get(in, key);
  if (v && *v) {
    char *end;
    long x = strtol(v, &end, 10);
    if (*end == 0)
      return x;
  }
  return def;
}

/* The metadata as a JSON object of strings (new, the caller's). */
static cJSON *meta_json(const nc_ninst *in) {
  cJSON *o = cJSON_CreateObject();
  const char *p = in->data + in->o_meta;
  for (uint32_t i = 0; o && i < in->n_meta; i++) {
    const char *v = p + strlen(p) + 1;
    cJSON_AddStringToObject(o, p, v);
    p = v + strlen(v) + 1;
  }
  return o;
}

void nc_ninst_free(nc_ninst *in) { free(in); }

static int valid_cluster(const char *c) {
  for (; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '-')
      return 0;
  return 1;
}

static long meta_long(const cJSON *md, const char *key, long def) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, key);
  if (cJSON_IsString(v) && v->valuestring[0]) {
    char *end;
    long x = strtol(v->valuestring, &end, 10);
    if (*end == 0)
      return x;
  }
  return def;
}

/* Metadata is Map<String,String> in Java: keep strings, print other
 * scalars, skip nulls and nested values (never echo a null). */
static cJSON *copy_metadata(const cJSON *md) {
  cJSON *out = cJSON_CreateObject();
  if (!out || !cJSON_IsObject(md))
    return out;
  const cJSON *it;
  cJSON_ArrayForEach(it, md) {
    if (!it->string)
      continue;
    if (cJSON_IsString(it)) {
      cJSON_AddStringToObject(out, it->string, it->valuestring);
    } else if (cJSON_IsNumber(it) || cJSON_IsBool(it)) {
      char *s = cJSON_PrintUnformatted(it);
      if (s)
        cJSON_AddStringToObject(out, it->string, s);
      free(s);
    }
  }
  return out;
}

int nc_ninst_parse(const cJSON *j, const char *group, const char *name, nc_ninst **out,
                   const char **err) {
  *out = NULL;
  if (!cJSON_IsObject(j)) {
    *err = "instance must be an object";
    return NC_EINVAL;
  }
  const cJSON *ip = cJSON_GetObjectItemCaseSensitive(j, "ip");
  const cJSON *port = cJSON_GetObjectItemCaseSensitive(j, "port");
  const cJSON *cl = cJSON_GetObjectItemCaseSensitive(j, "clusterName");
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "instanceId");
  if (!cJSON_IsString(ip) || !ip->valuestring[0]) {
    *err = "instance ip is required";
    return NC_EINVAL;
  }
  /* Written so NaN fails too; a fraction is refused rather than cut. */
  if (!cJSON_IsNumber(port) || !(port->valuedouble >= 0 && port->valuedouble <= 65535) ||
      port->valuedouble != floor(port->valuedouble)) {
    *err = "instance port must be an integer 0..65535";
    return NC_EINVAL;
  }
  /* Nacos's bounds and message. 1e999 parses as inf, which would be pushed
   * as null and break the SDKs that read the service. */
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "weight");
  if (w && !cJSON_IsNull(w) &&
      (!cJSON_IsNumber(w) || !(w->valuedouble >= 0 && w->valuedouble <= 10000))) {
    *err = "instance format invalid: The weights range from 0.0 to 10000.0";
    return NC_EINVAL;
  }
  if (cl && !cJSON_IsNull(cl) && !cJSON_IsString(cl)) {
    *err = "clusterName must be a string";
    return NC_EINVAL;
  }
  const char *cls = cJSON_IsString(cl) ? cl->valuestring : NULL;
  if (cls && *cls && !valid_cluster(cls)) {
    *err = "Instance 'clusterName' should be characters with only 0-9a-zA-Z-";
    return NC_EINVAL;
  }
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(j, "metadata");
  long hb = meta_long(md, "preserved.heart.beat.interval", 5000);
  long hbt = meta_long(md, "preserved.heart.beat.timeout", 15000);
  long del = meta_long(md, "preserved.ip.delete.timeout", 30000);
  if (hbt < hb || del < hb) {
    *err = "Instance 'heart beat timeout' and 'ip delete timeout' must greater than 'heart beat "
           "interval'";
    return NC_EINVAL;
  }
  cJSON *meta = copy_metadata(md);
  if (!meta)
    return NC_ENOMEM;
  const char *idv = cJSON_IsString(id) && id->valuestring[0] ? id->valuestring : NULL;
  const char *clv = cls && *cls ? cls : "DEFAULT";
  size_t il = strlen(ip->valuestring) + 1, cll = strlen(clv) + 1, idl = idv ? strlen(idv) + 1 : 0;
  size_t need = il + cll + idl, n_meta = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, meta) {
    need += strlen(it->string) + strlen(it->valuestring) + 2;
    n_meta++;
  }
  nc_ninst *in = NULL;
  if (need > UINT32_MAX || il + cll + idl > UINT16_MAX || !(in = calloc(1, sizeof(*in) + need))) {
    cJSON_Delete(meta);
    return NC_ENOMEM;
  }
  char *d = in->data;
  memcpy(d, ip->valuestring, il);
  in->o_cluster = (uint16_t)il;
  memcpy(d + il, clv, cll);
  if (idv)
    memcpy(d + il + cll, idv, idl);
  in->has_id = idv != NULL;
  in->o_meta = (uint16_t)(il + cll + idl);
  size_t o = in->o_meta;
  cJSON_ArrayForEach(it, meta) {
    size_t kl = strlen(it->string) + 1, vl = strlen(it->valuestring) + 1;
    memcpy(d + o, it->string, kl);
    memcpy(d + o + kl, it->valuestring, vl);
    o += kl + vl;
  }
  cJSON_Delete(meta);
  in->n_meta = (uint32_t)n_meta;
  in->len = (uint32_t)o;
  /* The id generator uses clusterName exactly as received (Java prints
   * "null" when it was omitted). */
  in->gen = !cls ? GEN_NULL : !*cls ? GEN_BLANK : GEN_CLUSTER;
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "healthy");
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "enabled");
  const cJSON *eph = cJSON_GetObjectItemCaseSensitive(j, "ephemeral");
  in->port = (uint16_t)port->valuedouble;
  in->weight = cJSON_IsNumber(w) ? w->valuedouble : 1.0;
  in->healthy = cJSON_IsBool(h) ? cJSON_IsTrue(h) : 1;
  in->enabled = cJSON_IsBool(e) ? cJSON_IsTrue(e) : 1;
  in->ephemeral = cJSON_IsBool(eph) ? cJSON_IsTrue(eph) : 1;
  (void)group;
  (void)name;
  *out = in;
  return 0;
}

void nc_ninst_metadata_size(const nc_ninst *in, size_t *keys, size_t *bytes) {
  *keys = in->n_meta;
  *bytes = in->len - in->o_meta - 2u * in->n_meta; /* without the NULs */
}

/* Metadata compares as a map, in any order (as cJSON_Compare did): a
 * replay whose SDK orders its map differently is no change. */
int nc_ninst_equal(const nc_ninst *a, const nc_ninst *b) {
  if (a->port != b->port || a->weight != b->weight || a->healthy != b->healthy ||
      a->enabled != b->enabled || a->ephemeral != b->ephemeral || a->has_id != b->has_id ||
      a->gen != b->gen || a->n_meta != b->n_meta || a->len != b->len ||
      a->o_cluster != b->o_cluster || a->o_meta != b->o_meta ||
      memcmp(a->data, b->data, a->o_meta) != 0)
    return 0;
  if (memcmp(a->data + a->o_meta, b->data + b->o_meta, a->len - a->o_meta) == 0)
    return 1;
  const char *p = a->data + a->o_meta;
  for (uint32_t i = 0; i < a->n_meta; i++) {
    const char *v = p + strlen(p) + 1, *bv = meta_get(b, p);
    if (!bv || strcmp(v, bv) != 0)
      return 0;
    p = v + strlen(v) + 1;
  }
  return 1;
}

/* ip#port#clusterAsReceived#group@@name, Nacos's simple id generator:
 * into buf when it fits, else into a new allocation (*heap, the caller
 * frees); NULL on OOM. */
static const char *gen_id(const nc_ninst *in, const char *group, const char *name, char *buf,
                          size_t cap, char **heap) {
  const char *cl = in->gen == GEN_NULL ? "null" : in->gen == GEN_BLANK ? "" : nc_ninst_cluster(in);
  size_t need = strlen(in_ip(in)) + strlen(cl) + strlen(group) + strlen(name) + 16;
  *heap = NULL;
  if (need > cap && !(buf = *heap = malloc(need)))
    return NULL;
  snprintf(buf, need > cap ? need : cap, "%s#%u#%s#%s@@%s", in_ip(in), (unsigned)in->port, cl,
           group, name);
  return buf;
}

cJSON *nc_ninst_to_json(const nc_ninst *in, const char *group, const char *name) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  char sn[NAME_MAX_OUT], gid[512], *heap = NULL;
  snprintf(sn, sizeof(sn), "%s@@%s", group, name);
  const char *id = in_id(in);
  if (!id && !(id = gen_id(in, group, name, gid, sizeof(gid), &heap))) {
    cJSON_Delete(o);
    return NULL;
  }
  cJSON_AddStringToObject(o, "instanceId", id);
  free(heap);
  cJSON_AddStringToObject(o, "ip", in_ip(in));
  cJSON_AddNumberToObject(o, "port", in->port);
  cJSON_AddNumberToObject(o, "weight", in->weight);
  cJSON_AddBoolToObject(o, "healthy", in->healthy);
  cJSON_AddBoolToObject(o, "enabled", in->enabled);
  cJSON_AddBoolToObject(o, "ephemeral", in->ephemeral);
  cJSON_AddStringToObject(o, "clusterName", nc_ninst_cluster(in));
  cJSON_AddStringToObject(o, "serviceName", sn);
  cJSON_AddItemToObject(o, "metadata", meta_json(in));
  cJSON_AddNumberToObject(o, "instanceHeartBeatInterval",
                          (double)meta_long_in(in, "preserved.heart.beat.interval", 5000));
  cJSON_AddNumberToObject(o, "instanceHeartBeatTimeOut",
                          (double)meta_long_in(in, "preserved.heart.beat.timeout", 15000));
  cJSON_AddNumberToObject(o, "ipDeleteTimeout",
                          (double)meta_long_in(in, "preserved.ip.delete.timeout", 30000));
  const char *gen = meta_get(in, "preserved.instance.id.generator");
  cJSON_AddStringToObject(o, "instanceIdGenerator", gen && *gen ? gen : "simple");
  return o;
}

int nc_ninst_enabled(const nc_ninst *in) { return in->enabled; }
int nc_ninst_healthy(const nc_ninst *in) { return in->healthy; }
void nc_ninst_set_ephemeral(nc_ninst *in, int ephemeral) { in->ephemeral = ephemeral ? 1 : 0; }
const char *nc_ninst_cluster(const nc_ninst *in) { return in->data + in->o_cluster; }

const char *nc_ninst_addr_key(const nc_ninst *in, char *buf, size_t cap) {
  snprintf(buf, cap, "%s:%u:%s", in_ip(in), (unsigned)in->port, nc_ninst_cluster(in));
  return buf;
}

/* Keys Distro folds into extendDatum next to the metadata (§3.4). */
#define XD_ID "customInstanceId"
#define XD_WEIGHT "publishInstanceWeight"
#define XD_ENABLE "publishInstanceEnable"

cJSON *nc_ninst_to_publish_info(const nc_ninst *in) {
  char mid[600];
  cJSON *o = cJSON_CreateObject();
  cJSON *xd = meta_json(in);
  if (!o || !xd) {
    cJSON_Delete(o);
    cJSON_Delete(xd);
    return NULL;
  }
  cJSON_AddStringToObject(o, "ip", in_ip(in));
  cJSON_AddNumberToObject(o, "port", in->port);
  cJSON_AddBoolToObject(o, "healthy", in->healthy);
  cJSON_AddStringToObject(o, "cluster", nc_ninst_cluster(in));
  if (in->has_id)
    cJSON_AddStringToObject(xd, XD_ID, in_id(in));
  if (in->weight != 1.0)
    cJSON_AddNumberToObject(xd, XD_WEIGHT, in->weight);
  if (!in->enabled)
    cJSON_AddBoolToObject(xd, XD_ENABLE, 0);
  cJSON_AddItemToObject(o, "extendDatum", xd);
  cJSON_AddStringToObject(o, "metadataId", nc_ninst_addr_key(in, mid, sizeof(mid)));
  return o;
}

/* A present field of the wrong JSON type is refused, never guessed. */
static int bad_type(const cJSON *v, cJSON_bool (*is)(const cJSON *)) {
  return v && !cJSON_IsNull(v) && !is(v);
}

int nc_ninst_from_publish_info(const cJSON *j, const char *group, const char *name,
                               nc_ninst **out, const char **err) {
  *out = NULL;
  if (!cJSON_IsObject(j)) {
    *err = "instancePublishInfo must be an object";
    return NC_EINVAL;
  }
  const cJSON *xd = cJSON_GetObjectItemCaseSensitive(j, "extendDatum");
  const cJSON *cl = cJSON_GetObjectItemCaseSensitive(j, "cluster");
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "healthy");
  if (bad_type(xd, cJSON_IsObject) || bad_type(cl, cJSON_IsString) || bad_type(h, cJSON_IsBool)) {
    *err = "instancePublishInfo: extendDatum, cluster or healthy has the wrong type";
    return NC_EINVAL;
  }
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(xd, XD_ID);
  const cJSON *w = cJSON_GetObjectItemCaseSensitive(xd, XD_WEIGHT);
  const cJSON *en = cJSON_GetObjectItemCaseSensitive(xd, XD_ENABLE);
  if (bad_type(id, cJSON_IsString) || bad_type(w, cJSON_IsNumber) || bad_type(en, cJSON_IsBool)) {
    *err = "instancePublishInfo: extendDatum has a field of the wrong type";
    return NC_EINVAL;
  }
  /* Rebuild the SDK-shaped Instance and reuse its validation. */
  cJSON *inst = cJSON_CreateObject();
  cJSON *md = cJSON_IsObject(xd) ? cJSON_Duplicate(xd, 1) : cJSON_CreateObject();
  if (!inst || !md) {
    cJSON_Delete(inst);
    cJSON_Delete(md);
    return NC_ENOMEM;
  }
  cJSON_DeleteItemFromObjectCaseSensitive(md, XD_ID);
  cJSON_DeleteItemFromObjectCaseSensitive(md, XD_WEIGHT);
  cJSON_DeleteItemFromObjectCaseSensitive(md, XD_ENABLE);
  static const char *const copy[] = {"ip", "port"};
  for (size_t i = 0; i < 2; i++) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, copy[i]);
    if (v)
      cJSON_AddItemToObject(inst, copy[i], cJSON_Duplicate(v, 1));
  }
  cJSON_AddStringToObject(inst, "clusterName",
                          cJSON_IsString(cl) && cl->valuestring[0] ? cl->valuestring : "DEFAULT");
  cJSON_AddBoolToObject(inst, "healthy", cJSON_IsBool(h) ? cJSON_IsTrue(h) : 0);
  cJSON_AddBoolToObject(inst, "enabled", cJSON_IsBool(en) ? cJSON_IsTrue(en) : 1);
  cJSON_AddBoolToObject(inst, "ephemeral", 1);
  cJSON_AddNumberToObject(inst, "weight", cJSON_IsNumber(w) ? w->valuedouble : 1.0);
  if (cJSON_IsString(id) && id->valuestring[0])
    cJSON_AddStringToObject(inst, "instanceId", id->valuestring);
  cJSON_AddItemToObject(inst, "metadata", md);
  int rc = nc_ninst_parse(inst, group, name, out, err);
  cJSON_Delete(inst);
  return rc;
}

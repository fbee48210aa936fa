/* naming_instance: see naming_instance.h. */
#include "naming_instance.h"

#include "nc_err.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_OUT 1024

struct nc_ninst {
  char *instance_id; /* client-supplied id, or NULL: generated on output */
  char *ip;
  int port;
  double weight;
  int healthy, enabled, ephemeral;
  char *cluster;    /* stored cluster, "DEFAULT" when blank */
  char *gen_id;     /* ip#port#clusterAsReceived#group@@name */
  cJSON *metadata;  /* object of strings, owned */
};


void nc_ninst_free(nc_ninst *in) {
  if (!in)
    return;
  free(in->instance_id);
  free(in->ip);
  free(in->cluster);
  free(in->gen_id);
  cJSON_Delete(in->metadata);
  free(in);
}

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
  nc_ninst *in = calloc(1, sizeof(*in));
  if (!in)
    return NC_ENOMEM;
  const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "healthy");
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "enabled");
  const cJSON *eph = cJSON_GetObjectItemCaseSensitive(j, "ephemeral");
  in->port = (int)port->valuedouble;
  in->weight = cJSON_IsNumber(w) ? w->valuedouble : 1.0;
  in->healthy = cJSON_IsBool(h) ? cJSON_IsTrue(h) : 1;
  in->enabled = cJSON_IsBool(e) ? cJSON_IsTrue(e) : 1;
  in->ephemeral = cJSON_IsBool(eph) ? cJSON_IsTrue(eph) : 1;
  in->ip = strdup(ip->valuestring);
  in->cluster = strdup(cls && *cls ? cls : "DEFAULT");
  if (cJSON_IsString(id) && id->valuestring[0])
    in->instance_id = strdup(id->valuestring);
  in->metadata = copy_metadata(md);
  /* The id generator uses clusterName exactly as received (Java prints
   * "null" when it was omitted). */
  size_t gl = strlen(in->ip) + strlen(group) + strlen(name) + (cls ? strlen(cls) : 4) + 32;
  in->gen_id = malloc(gl);
  if (in->gen_id)
    snprintf(in->gen_id, gl, "%s#%d#%s#%s@@%s", in->ip, in->port, cls ? cls : "null", group,
             name);
  if (!in->ip || !in->cluster || !in->metadata || !in->gen_id ||
      (cJSON_IsString(id) && id->valuestring[0] && !in->instance_id)) {
    nc_ninst_free(in);
    return NC_ENOMEM;
  }
  *out = in;
  return 0;
}

void nc_ninst_metadata_size(const nc_ninst *in, size_t *keys, size_t *bytes) {
  *keys = 0;
  *bytes = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, in->metadata) {
    (*keys)++;
    *bytes += (it->string ? strlen(it->string) : 0) +
              (cJSON_IsString(it) ? strlen(it->valuestring) : 0);
  }
}

static int str_eq(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int nc_ninst_equal(const nc_ninst *a, const nc_ninst *b) {
  return a->port == b->port && a->weight == b->weight && a->healthy == b->healthy &&
         a->enabled == b->enabled && a->ephemeral == b->ephemeral && str_eq(a->ip, b->ip) &&
         str_eq(a->cluster, b->cluster) && str_eq(a->instance_id, b->instance_id) &&
         str_eq(a->gen_id, b->gen_id) && cJSON_Compare(a->metadata, b->metadata, 1);
}

cJSON *nc_ninst_to_json(const nc_ninst *in, const char *group, const char *name) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  char sn[NAME_MAX_OUT];
  snprintf(sn, sizeof(sn), "%s@@%s", group, name);
  cJSON_AddStringToObject(o, "instanceId", in->instance_id ? in->instance_id : in->gen_id);
  cJSON_AddStringToObject(o, "ip", in->ip);
  cJSON_AddNumberToObject(o, "port", in->port);
  cJSON_AddNumberToObject(o, "weight", in->weight);
  cJSON_AddBoolToObject(o, "healthy", in->healthy);
  cJSON_AddBoolToObject(o, "enabled", in->enabled);
  cJSON_AddBoolToObject(o, "ephemeral", in->ephemeral);
  cJSON_AddStringToObject(o, "clusterName", in->cluster);
  cJSON_AddStringToObject(o, "serviceName", sn);
  cJSON_AddItemToObject(o, "metadata", cJSON_Duplicate(in->metadata, 1));
  cJSON_AddNumberToObject(o, "instanceHeartBeatInterval",
                          (double)meta_long(in->metadata, "preserved.heart.beat.interval", 5000));
  cJSON_AddNumberToObject(o, "instanceHeartBeatTimeOut",
                          (double)meta_long(in->metadata, "preserved.heart.beat.timeout", 15000));
  cJSON_AddNumberToObject(o, "ipDeleteTimeout",
                          (double)meta_long(in->metadata, "preserved.ip.delete.timeout", 30000));
  const cJSON *gen = cJSON_GetObjectItemCaseSensitive(in->metadata, "preserved.instance.id.generator");
  cJSON_AddStringToObject(o, "instanceIdGenerator",
                          cJSON_IsString(gen) && gen->valuestring[0] ? gen->valuestring : "simple");
  return o;
}

int nc_ninst_enabled(const nc_ninst *in) { return in->enabled; }
int nc_ninst_healthy(const nc_ninst *in) { return in->healthy; }
const char *nc_ninst_cluster(const nc_ninst *in) { return in->cluster; }

const char *nc_ninst_addr_key(const nc_ninst *in, char *buf, size_t cap) {
  snprintf(buf, cap, "%s:%d:%s", in->ip, in->port, in->cluster);
  return buf;
}

/* Keys Distro folds into extendDatum next to the metadata (§3.4). */
#define XD_ID "customInstanceId"
#define XD_WEIGHT "publishInstanceWeight"
#define XD_ENABLE "publishInstanceEnable"

cJSON *nc_ninst_to_publish_info(const nc_ninst *in) {
  char mid[600];
  cJSON *o = cJSON_CreateObject();
  cJSON *xd = cJSON_Duplicate(in->metadata, 1);
  if (!o || !xd) {
    cJSON_Delete(o);
    cJSON_Delete(xd);
    return NULL;
  }
  cJSON_AddStringToObject(o, "ip", in->ip);
  cJSON_AddNumberToObject(o, "port", in->port);
  cJSON_AddBoolToObject(o, "healthy", in->healthy);
  cJSON_AddStringToObject(o, "cluster", in->cluster);
  if (in->instance_id)
    cJSON_AddStringToObject(xd, XD_ID, in->instance_id);
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

/* naming_routes_write: the instance writes of the naming open API
 * (register, deregister, update, beat), run on the instance's responsible
 * node: for a request made here, or for one a member forwarded
 * (naming_routes_fwd.c). Parameters, defaults and answers follow Nacos's
 * InstanceController (v1) and InstanceControllerV2. */
#include "naming_routes_int.h"
#include "naming_routes_pst.h"
#include "oapi_result.h"

#include "nc_err.h"
#include "nc_log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ip (required) and port (required, 0..65535). 0, or answered. */
int nc_nrt_parse_addr(nrt_call *c, const char **ip, int *port) {
  const char *p = nc_nrt_cparam(c, "port");
  *ip = nc_nrt_cparam(c, "ip");
  if (!*ip || !p) {
    const char *what = !*ip ? "ip" : "port";
    char why[128];
    if (c->v2)
      snprintf(why, sizeof(why), "Required parameter '%s' type %s is not present", what,
               !*ip ? "String" : "Integer");
    else
      snprintf(why, sizeof(why), "Param '%s' is required.", what);
    nc_nrt_cfail(c, 400, E_PARAM_MISSING, why);
    return -1;
  }
  if (strlen(*ip) > 128) {
    nc_nrt_cfail(c, 400, E_PARAM_VALIDATE, "Param 'ip' is longer than 128 characters");
    return -1;
  }
  char *end;
  errno = 0;
  long v = strtol(p, &end, 10);
  if (errno || *end || v < 0 || v > 65535) {
    nc_nrt_cfail(c, 400, E_PARAM_VALIDATE, "Param 'port' must be an integer 0..65535");
    return -1;
  }
  *port = (int)v;
  return 0;
}

cJSON *nc_nrt_parse_metadata(const char *s) {
  if (!s)
    return cJSON_CreateObject();
  cJSON *j = cJSON_Parse(s);
  if (j)
    return cJSON_IsObject(j) ? j : (cJSON_Delete(j), NULL);
  cJSON *o = cJSON_CreateObject();
  char *copy = strdup(s), *save = NULL;
  for (char *kv = strtok_r(copy, ",", &save); kv && o; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
      cJSON_Delete(o);
      o = NULL;
      break;
    }
    *eq = '\0';
    cJSON_DeleteItemFromObjectCaseSensitive(o, kv);
    cJSON_AddStringToObject(o, kv, eq + 1);
  }
  free(copy);
  return o;
}

int nc_nrt_weight(nrt_call *c, double def, double *out) {
  const char *w = nc_nrt_cparam(c, "weight");
  *out = def;
  if (!w)
    return 0;
  char *end;
  *out = strtod(w, &end);
  if (*end || !isfinite(*out) || *out < 0 || *out > 10000) {
    nc_nrt_cfail(c, 400, E_WEIGHT, "instance format invalid: The weights range from 0.0 to 10000.0");
    return -1;
  }
  return 0;
}

/* The Instance JSON of a register/update call, with base (the stored
 * instance, may be NULL) supplying what the call leaves out. NULL when
 * answered. */
static cJSON *build_instance(nrt_call *c, const char *ip, int port, const cJSON *base) {
  const char *md = nc_nrt_cparam(c, "metadata");
  const char *cl = nc_nrt_cparam(c, "clusterName");
  const char *en = nc_nrt_cparam(c, "enabled");
  if (!en)
    en = nc_nrt_cparam(c, "enable");
  double weight;
  if (nc_nrt_weight(c, base ? cJSON_GetNumberValue(cJSON_GetObjectItem(base, "weight")) : 1.0,
                    &weight))
    return NULL;
  cJSON *meta = md ? nc_nrt_parse_metadata(md)
                   : (base ? cJSON_Duplicate(cJSON_GetObjectItem(base, "metadata"), 1)
                           : cJSON_CreateObject());
  if (!meta) {
    nc_nrt_cfail(c, 400, E_METADATA, "instance metadata must be a JSON object or k=v,k=v");
    return NULL;
  }
  const cJSON *bcl = base ? cJSON_GetObjectItem(base, "clusterName") : NULL;
  cJSON *in = cJSON_CreateObject();
  cJSON_AddStringToObject(in, "ip", ip);
  cJSON_AddNumberToObject(in, "port", port);
  cJSON_AddNumberToObject(in, "weight", weight);
  cJSON_AddBoolToObject(in, "healthy", nc_nrt_to_bool(nc_nrt_cparam(c, "healthy"), 1));
  int def_en = base ? cJSON_IsTrue(cJSON_GetObjectItem(base, "enabled")) : 1;
  cJSON_AddBoolToObject(in, "enabled", nc_nrt_to_bool(en, def_en));
  cJSON_AddBoolToObject(in, "ephemeral", 1);
  cJSON_AddStringToObject(in, "clusterName",
                          cl ? cl : (cJSON_IsString(bcl) ? bcl->valuestring : "DEFAULT"));
  cJSON_AddItemToObject(in, "metadata", meta);
  return in;
}

/* The service (and, want_addr, ip/port) of the call; with auth on a
 * request made here needs 'w' on the service. 1, or answered. */
static int svc_addr(nc_nroutes *nr, nrt_call *c, svc_ref *s, const char **ip, int *port) {
  if (nc_nrt_cparse_svc(c, s) || (ip && nc_nrt_parse_addr(c, ip, port)))
    return 0;
  return !c->http || nc_nrt_permitted(nr, c->http, s, 'w');
}

/* Registers in (taken) and answers. */
static void put_instance(nc_nroutes *nr, nrt_call *c, const svc_ref *s, cJSON *in) {
  const char *err = NULL;
  if (nc_nrt_pst_refuses(nr, c, s)) {
    cJSON_Delete(in);
    return;
  }
  int rc = nc_nbeat_register(nr->beat, s->ns, s->group, s->name, in, &err);
  cJSON_Delete(in);
  if (rc == NC_EINVAL)
    nc_nrt_cfail(c, 400, E_INSTANCE, err ? err : "invalid instance");
  else if (rc == NC_ECONFLICT)
    nc_nrt_pst_kind_refused(c, s, "register ephemeral instance");
  else if (rc)
    nc_nrt_cfail(c, 500, E_SERVER, nc_strerror(rc));
  else
    nc_nrt_cok_text(c, "ok");
}

/* ephemeral=false: a persistent instance (naming_routes_pst.h); update
 * replaces it whole, as Nacos builds it from the request. */
static void do_register(nc_nroutes *nr, nrt_call *c) {
  svc_ref s;
  const char *ip;
  int port;
  if (!svc_addr(nr, c, &s, &ip, &port))
    return;
  cJSON *in = build_instance(c, ip, port, NULL);
  if (in && nc_nrt_pst_wanted(c)) {
    cJSON_ReplaceItemInObject(in, "ephemeral", cJSON_CreateBool(0));
    nc_nrt_pst_register(nr, c, &s, in);
  } else if (in) {
    put_instance(nr, c, &s, in);
  }
}

static void do_deregister(nc_nroutes *nr, nrt_call *c) {
  svc_ref s;
  const char *ip;
  int port;
  if (!svc_addr(nr, c, &s, &ip, &port))
    return;
  if (nc_nrt_pst_wanted(c)) {
    nc_nrt_pst_deregister(nr, c, &s, ip, port);
    return;
  }
  /* Nacos answers ok for an instance it does not hold. */
  nc_nbeat_deregister(nr->beat, s.ns, s.group, s.name, ip, port);
  nc_nrt_cok_text(c, "ok");
}

static void do_update(nc_nroutes *nr, nrt_call *c) {
  svc_ref s;
  const char *ip;
  int port;
  if (!svc_addr(nr, c, &s, &ip, &port))
    return;
  if (nc_nrt_pst_wanted(c)) {
    do_register(nr, c);
    return;
  }
  const cJSON *base = nc_nbeat_get(nr->beat, s.ns, s.group, s.name, ip, port);
  if (!base) {
    /* not an HTTP instance held here: its metadata override, as Nacos
     * 2.x updates any instance (naming_routes_meta.c) */
    nc_nrt_meta_update_instance(nr, c, &s, ip, port);
    return;
  }
  cJSON *in = build_instance(c, ip, port, base);
  if (in)
    put_instance(nr, c, &s, in);
}

/* The instance a beat from an unknown client carries (Nacos registers it). */
static cJSON *beat_instance(const cJSON *beat, const char *ip, long port, const char *cl) {
  const cJSON *w = cJSON_GetObjectItem(beat, "weight");
  const cJSON *md = cJSON_GetObjectItem(beat, "metadata");
  cJSON *in = cJSON_CreateObject();
  cJSON_AddStringToObject(in, "ip", ip);
  cJSON_AddNumberToObject(in, "port", (double)port);
  cJSON_AddNumberToObject(in, "weight", cJSON_IsNumber(w) ? w->valuedouble : 1.0);
  cJSON_AddBoolToObject(in, "healthy", 1);
  cJSON_AddBoolToObject(in, "enabled", 1);
  cJSON_AddBoolToObject(in, "ephemeral", 1);
  cJSON_AddStringToObject(in, "clusterName", cl ? cl : "DEFAULT");
  cJSON_AddItemToObject(in, "metadata",
                        cJSON_IsObject(md) ? cJSON_Duplicate(md, 1) : cJSON_CreateObject());
  return in;
}

/* PUT .../instance/beat: the beat JSON (ip, port, cluster, weight,
 * metadata) or ip/port/clusterName parameters. A known instance is renewed
 * (code 10200); an unknown one is registered from the beat JSON (10200,
 * as Nacos does) or, without one, answered 20404 so the client registers
 * again. */
static void do_beat(nc_nroutes *nr, nrt_call *c) {
  svc_ref s;
  if (!svc_addr(nr, c, &s, NULL, NULL))
    return;
  const char *beat_s = nc_nrt_cparam(c, "beat");
  cJSON *beat = beat_s ? cJSON_Parse(beat_s) : NULL;
  if (beat_s && !cJSON_IsObject(beat)) {
    cJSON_Delete(beat);
    nc_nrt_cfail(c, 400, E_PARAM_VALIDATE, "Param 'beat' must be a JSON object");
    return;
  }
  const char *ip = nc_nrt_cparam(c, "ip");
  long port = nc_nrt_cparam(c, "port") ? strtol(nc_nrt_cparam(c, "port"), NULL, 10) : 0;
  const char *cl = nc_nrt_cparam(c, "clusterName");
  if (beat) {
    ip = cJSON_GetStringValue(cJSON_GetObjectItem(beat, "ip"));
    port = (long)cJSON_GetNumberValue(cJSON_GetObjectItem(beat, "port"));
    const char *bc = cJSON_GetStringValue(cJSON_GetObjectItem(beat, "cluster"));
    if (bc && *bc)
      cl = bc;
  }
  if (!ip || !*ip || strlen(ip) > 128 || port <= 0 || port > 65535) {
    cJSON_Delete(beat);
    nc_nrt_cfail(c, 400, E_PARAM_MISSING, "Param 'ip' and 'port' (or 'beat') are required.");
    return;
  }
  int code = 10200;
  if (nc_nbeat_beat(nr->beat, s.ns, s.group, s.name, ip, (int)port) == NC_ENOTFOUND) {
    if (!beat) {
      code = 20404;
    } else {
      cJSON *in = beat_instance(beat, ip, port, cl);
      const char *err = NULL;
      int rc = nc_nbeat_register(nr->beat, s.ns, s.group, s.name, in, &err);
      cJSON_Delete(in);
      if (rc) {
        cJSON_Delete(beat);
        nc_nrt_cfail(c, 400, E_INSTANCE, err ? err : nc_strerror(rc));
        return;
      }
      nc_info("naming: beat from unknown %s:%ld registered it in %s", ip, port, s.grouped);
    }
  }
  cJSON_Delete(beat);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "clientBeatInterval", (double)nc_nbeat_interval_ms(nr->beat));
  cJSON_AddNumberToObject(o, "code", code);
  cJSON_AddBoolToObject(o, "lightBeatEnabled", 1);
  nc_nrt_cok_json(c, o);
}

/* v3 client POST heartBeat=true: a beat of ip:port, "ok" or 21003. */
static void do_heartbeat(nc_nroutes *nr, nrt_call *c) {
  svc_ref s;
  const char *ip;
  int port;
  if (!svc_addr(nr, c, &s, &ip, &port))
    return;
  if (nc_nbeat_beat(nr->beat, s.ns, s.group, s.name, ip, port) == NC_ENOTFOUND)
    nc_nrt_cresult(c, 200, E_INSTANCE_NOT_FOUND);
  else
    nc_nrt_cok_text(c, "ok");
}

static void do_patch(nc_nroutes *nr, nrt_call *c) {
  svc_ref s;
  const char *ip;
  int port;
  if (svc_addr(nr, c, &s, &ip, &port))
    nc_nrt_meta_patch_instance(nr, c, &s, ip, port);
}

void nc_nrt_write(nc_nroutes *nr, nrt_call *c, nrt_op op) {
  switch (op) {
  case NRT_REGISTER: do_register(nr, c); break;
  case NRT_DEREGISTER: do_deregister(nr, c); break;
  case NRT_UPDATE: do_update(nr, c); break;
  case NRT_BEAT: do_beat(nr, c); break;
  case NRT_HEARTBEAT: do_heartbeat(nr, c); break;
  case NRT_PATCH: do_patch(nr, c); break;
  }
}

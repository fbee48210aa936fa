/* distro_codec: see distro_codec.h. */
#include "distro_codec.h"

#include "nc_err.h"
#include "nc_json.h"

#include <stdlib.h>
#include <string.h>

/* ---- base64 ---- */

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *nc_b64_encode(const unsigned char *p, size_t n) {
  char *o = malloc((n + 2) / 3 * 4 + 1), *w = o;
  if (!o)
    return NULL;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                 (i + 2 < n ? p[i + 2] : 0);
    *w++ = B64[v >> 18 & 63];
    *w++ = B64[v >> 12 & 63];
    *w++ = i + 1 < n ? B64[v >> 6 & 63] : '=';
    *w++ = i + 2 < n ? B64[v & 63] : '=';
  }
  *w = 0;
  return o;
}

static int b64_val(char c) {
  const char *p = c ? strchr(B64, c) : NULL;
  return p ? (int)(p - B64) : -1;
}

int nc_b64_decode(const char *s, unsigned char **out, size_t *n) {
  size_t len = strlen(s);
  *out = NULL;
  *n = 0;
  if (len % 4)
    return NC_EINVAL;
  unsigned char *o = malloc(len / 4 * 3 + 1);
  size_t k = 0;
  if (!o)
    return NC_ENOMEM;
  for (size_t i = 0; i < len; i += 4) {
    int v[4], pad = 0;
    for (int j = 0; j < 4; j++) {
      char c = s[i + j];
      /* '=' only as the last one or two characters */
      if (c == '=' && i + 4 == len && j >= 2 && (j == 3 || s[i + 3] == '=')) {
        v[j] = 0;
        pad++;
      } else if ((v[j] = b64_val(c)) < 0) {
        free(o);
        return NC_EINVAL;
      }
    }
    unsigned x = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
    o[k++] = (unsigned char)(x >> 16);
    if (pad < 2)
      o[k++] = (unsigned char)(x >> 8);
    if (pad < 1)
      o[k++] = (unsigned char)x;
  }
  o[k] = 0;
  *out = o;
  *n = k;
  return 0;
}

/* ---- ClientSyncData out ---- */

typedef struct enc {
  cJSON *ns, *gr, *sv, *infos;          /* single publications */
  cJSON *bns, *bgr, *bsv, *binfos;      /* batch publications */
  int oom;
} enc;

static cJSON *info_array(nc_ninst *const *insts, size_t n) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; a && i < n; i++)
    cJSON_AddItemToArray(a, nc_ninst_to_publish_info(insts[i]));
  return a;
}

static void enc_pub(void *ud, const char *ns, const char *group, const char *name,
                    nc_ninst *const *insts, size_t n) {
  enc *e = ud;
  int batch = n > 1;
  cJSON_AddItemToArray(batch ? e->bns : e->ns, cJSON_CreateString(ns));
  cJSON_AddItemToArray(batch ? e->bgr : e->gr, cJSON_CreateString(group));
  cJSON_AddItemToArray(batch ? e->bsv : e->sv, cJSON_CreateString(name));
  if (!batch) {
    cJSON_AddItemToArray(e->infos, nc_ninst_to_publish_info(insts[0]));
    return;
  }
  /* BatchInstancePublishInfo: the wrapper's own fields are Java defaults */
  cJSON *b = cJSON_CreateObject();
  if (!b) {
    e->oom = 1;
    return;
  }
  cJSON_AddNumberToObject(b, "port", 0);
  cJSON_AddBoolToObject(b, "healthy", 0);
  cJSON_AddStringToObject(b, "metadataId", "null:0:null");
  cJSON_AddItemToObject(b, "instancePublishInfos", info_array(insts, n));
  cJSON_AddItemToArray(e->binfos, b);
}

cJSON *nc_distro_sync_data(nc_nreg *r, const char *id) {
  uint64_t rev = 0;
  enc e = {0};
  cJSON *o = cJSON_CreateObject(), *bd = cJSON_CreateObject();
  e.ns = cJSON_CreateArray(), e.gr = cJSON_CreateArray(), e.sv = cJSON_CreateArray();
  e.infos = cJSON_CreateArray(), e.bns = cJSON_CreateArray(), e.bgr = cJSON_CreateArray();
  e.bsv = cJSON_CreateArray(), e.binfos = cJSON_CreateArray();
  int rc = (!o || !bd || !e.ns || !e.gr || !e.sv || !e.infos || !e.bns || !e.bgr || !e.bsv ||
            !e.binfos)
               ? NC_ENOMEM
               : nc_nreg_client_pubs(r, id, &rev, NULL, enc_pub, &e);
  if (!rc && !e.oom) {
    cJSON_AddStringToObject(o, "clientId", id);
    cJSON *at = cJSON_AddObjectToObject(o, "attributes");
    cJSON *ca = at ? cJSON_AddObjectToObject(at, "clientAttributes") : NULL;
    if (ca)
      cJSON_AddNumberToObject(ca, "revision", (double)rev);
    cJSON_AddItemToObject(o, "namespaces", e.ns);
    cJSON_AddItemToObject(o, "groupNames", e.gr);
    cJSON_AddItemToObject(o, "serviceNames", e.sv);
    cJSON_AddItemToObject(o, "instancePublishInfos", e.infos);
    e.ns = e.gr = e.sv = e.infos = NULL;
    if (cJSON_GetArraySize(e.bns) > 0) {
      cJSON_AddItemToObject(bd, "namespaces", e.bns);
      cJSON_AddItemToObject(bd, "groupNames", e.bgr);
      cJSON_AddItemToObject(bd, "serviceNames", e.bsv);
      cJSON_AddItemToObject(bd, "batchInstancePublishInfos", e.binfos);
      e.bns = e.bgr = e.bsv = e.binfos = NULL;
    }
    cJSON_AddItemToObject(o, "batchInstanceData", bd);
    bd = NULL;
  } else {
    cJSON_Delete(o);
    o = NULL;
  }
  cJSON *left[] = {bd, e.ns, e.gr, e.sv, e.infos, e.bns, e.bgr, e.bsv, e.binfos};
  for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++)
    cJSON_Delete(left[i]);
  return o;
}

/* ---- ClientSyncData in ---- */

void nc_distro_client_clear(nc_distro_client *c) {
  for (size_t i = 0; i < c->n; i++) {
    for (size_t k = 0; k < c->e[i].n; k++)
      nc_ninst_free(c->e[i].insts[k]);
    free(c->e[i].insts);
  }
  free(c->e);
  memset(c, 0, sizeof(*c));
}

/* The three name arrays and the info array of one kind (single or batch):
 * arrays (or absent) of equal length with strings. Returns the length or
 * -1 with *err. */
static int name_arrays(const cJSON *o, const char *infos_key, const cJSON **a, const char **err) {
  static const char *const keys[] = {"namespaces", "groupNames", "serviceNames"};
  int len = -1;
  for (int i = 0; i < 4; i++) {
    a[i] = cJSON_GetObjectItemCaseSensitive(o, i < 3 ? keys[i] : infos_key);
    if (cJSON_IsNull(a[i]))
      a[i] = NULL;
    if (a[i] && !cJSON_IsArray(a[i])) {
      *err = "ClientSyncData: namespaces, groupNames, serviceNames and infos must be arrays";
      return -1;
    }
    int n = a[i] ? cJSON_GetArraySize(a[i]) : 0;
    if (len >= 0 && n != len) {
      *err = "ClientSyncData: the parallel arrays differ in length";
      return -1;
    }
    len = n;
    if (i < 3)
      for (const cJSON *s = a[i] ? a[i]->child : NULL; s; s = s->next)
        if (!cJSON_IsString(s) || (i == 2 && !s->valuestring[0])) {
          *err = "ClientSyncData: names must be strings (service names not blank)";
          return -1;
        }
  }
  return len;
}

/* Appends one entry (ns, group, name at index i) with instances from the
 * array infos (one object when single). */
static int add_entry(nc_distro_client *c, const cJSON **a, int i, const cJSON *infos,
                     int single, const char **err) {
  nc_nreg_entry *e = &c->e[c->n];
  memset(e, 0, sizeof(*e));
  e->ns = cJSON_GetArrayItem(a[0], i)->valuestring;
  e->group = cJSON_GetArrayItem(a[1], i)->valuestring;
  e->name = cJSON_GetArrayItem(a[2], i)->valuestring;
  if (!e->group[0])
    e->group = "DEFAULT_GROUP";
  if (!single && !cJSON_IsArray(infos)) {
    *err = "batchInstancePublishInfos[].instancePublishInfos must be an array";
    return NC_EINVAL;
  }
  size_t n = single ? 1 : (size_t)cJSON_GetArraySize(infos);
  e->insts = calloc(n ? n : 1, sizeof(*e->insts));
  if (!e->insts)
    return NC_ENOMEM;
  c->n++;
  const cJSON *it = single ? infos : infos->child;
  for (size_t k = 0; k < n; k++, it = it->next) {
    int rc = nc_ninst_from_publish_info(it, e->group, e->name, &e->insts[k], err);
    if (rc)
      return rc;
    e->n++;
  }
  return 0;
}

int nc_distro_parse_sync_data(const cJSON *j, nc_distro_client *out, const char **err) {
  memset(out, 0, sizeof(*out));
  const cJSON *a[4], *b[4];
  int rc = NC_EINVAL;
  if (!cJSON_IsObject(j)) {
    *err = "ClientSyncData must be an object";
    return NC_EINVAL;
  }
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "clientId");
  if (!cJSON_IsString(id) || !id->valuestring[0]) {
    *err = "ClientSyncData: clientId must be a non-blank string";
    return NC_EINVAL;
  }
  const cJSON *at = cJSON_GetObjectItemCaseSensitive(j, "attributes");
  const cJSON *ca = cJSON_GetObjectItemCaseSensitive(at, "clientAttributes");
  const cJSON *rev = cJSON_GetObjectItemCaseSensitive(ca, "revision");
  if (nc_json_mistyped(j, "attributes", cJSON_Object) ||
      nc_json_mistyped(at, "clientAttributes", cJSON_Object) ||
      nc_json_mistyped(ca, "revision", cJSON_Number) ||
      (cJSON_IsNumber(rev) && rev->valuedouble < 0)) {
    *err = "ClientSyncData: attributes.clientAttributes.revision must be a number >= 0";
    return NC_EINVAL;
  }
  const cJSON *bd = cJSON_GetObjectItemCaseSensitive(j, "batchInstanceData");
  if (nc_json_mistyped(j, "batchInstanceData", cJSON_Object)) {
    *err = "ClientSyncData: batchInstanceData must be an object";
    return NC_EINVAL;
  }
  int ns = name_arrays(j, "instancePublishInfos", a, err);
  int nb = ns < 0 ? -1 : name_arrays(bd, "batchInstancePublishInfos", b, err);
  if (ns < 0 || nb < 0)
    return NC_EINVAL;
  out->id = id->valuestring;
  out->revision = cJSON_IsNumber(rev) ? (uint64_t)rev->valuedouble : 0;
  out->e = calloc((size_t)(ns + nb) + 1, sizeof(*out->e));
  if (!out->e)
    return NC_ENOMEM;
  for (int i = 0; i < ns; i++)
    if ((rc = add_entry(out, a, i, cJSON_GetArrayItem(a[3], i), 1, err)))
      goto fail;
  for (int i = 0; i < nb; i++) {
    const cJSON *bi = cJSON_GetArrayItem(b[3], i);
    if (!cJSON_IsObject(bi)) {
      *err = "batchInstancePublishInfos[] must be objects";
      rc = NC_EINVAL;
      goto fail;
    }
    if ((rc = add_entry(out, b, i, cJSON_GetObjectItemCaseSensitive(bi, "instancePublishInfos"),
                        0, err)))
      goto fail;
  }
  return 0;
fail:
  if (rc == NC_ENOMEM)
    *err = "out of memory";
  nc_distro_client_clear(out);
  return rc;
}

/* ---- DistroDataRequest / Response ---- */

static char *encode_content(const cJSON *content) {
  char *txt = cJSON_PrintUnformatted(content);
  char *b = txt ? nc_b64_encode((const unsigned char *)txt, strlen(txt)) : NULL;
  free(txt);
  return b;
}

cJSON *nc_distro_request(const char *op, const char *type, const char *key, const char *target,
                         const cJSON *content, const char *owner) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  cJSON_AddObjectToObject(o, "headers");
  if (key || content) {
    cJSON *dd = cJSON_AddObjectToObject(o, "distroData");
    cJSON *dk = dd ? cJSON_AddObjectToObject(dd, "distroKey") : NULL;
    if (!dk)
      goto oom;
    nc_json_add_str(dk, "resourceKey", key);
    nc_json_add_str(dk, "resourceType", type ? type : NC_DISTRO_TYPE);
    nc_json_add_str(dk, "targetServer", target);
    cJSON_AddStringToObject(dd, "type", op);
    if (content) {
      char *b = encode_content(content);
      if (!b)
        goto oom;
      cJSON_AddStringToObject(dd, "content", b);
      free(b);
    }
  }
  cJSON_AddStringToObject(o, "dataOperation", op);
  cJSON_AddStringToObject(o, "module", "cluster");
  nc_json_add_str(o, "ncOwner", owner);
  return o;
oom:
  cJSON_Delete(o);
  return NULL;
}

/* distroData.content (a base64 string of UTF-8 JSON) parsed into *out. */
static int decode_content(const cJSON *dd, cJSON **out, const char **err) {
  *out = NULL;
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(dd, "content");
  if (!c || cJSON_IsNull(c))
    return 0;
  if (!cJSON_IsString(c)) {
    *err = "distroData.content must be a base64 string";
    return NC_EINVAL;
  }
  unsigned char *raw = NULL;
  size_t n = 0;
  int rc = nc_b64_decode(c->valuestring, &raw, &n);
  if (rc) {
    *err = rc == NC_EINVAL ? "distroData.content is not valid base64" : "out of memory";
    return rc;
  }
  *out = n ? cJSON_ParseWithLength((const char *)raw, n) : NULL;
  free(raw);
  if (n && !*out) {
    *err = "distroData.content is not JSON";
    return NC_EINVAL;
  }
  return 0;
}

void nc_distro_req_clear(nc_distro_req *r) {
  cJSON_Delete(r->content);
  memset(r, 0, sizeof(*r));
}

int nc_distro_parse_request(const cJSON *body, nc_distro_req *out, const char **err) {
  memset(out, 0, sizeof(*out));
  const cJSON *dd = cJSON_GetObjectItemCaseSensitive(body, "distroData");
  const cJSON *dk = cJSON_GetObjectItemCaseSensitive(dd, "distroKey");
  if (nc_json_mistyped(body, "distroData", cJSON_Object) ||
      nc_json_mistyped(dd, "distroKey", cJSON_Object) ||
      nc_json_mistyped(body, "dataOperation", cJSON_String) ||
      nc_json_mistyped(dk, "resourceKey", cJSON_String) ||
      nc_json_mistyped(dk, "resourceType", cJSON_String) ||
      nc_json_mistyped(dk, "targetServer", cJSON_String)) {
    *err = "DistroDataRequest: distroData, distroKey or a key field has the wrong type";
    return NC_EINVAL;
  }
  out->op = nc_json_str(body, "dataOperation", "");
  if (!*out->op)
    out->op = nc_json_str(dd, "type", "");
  if (!*out->op) {
    *err = "DistroDataRequest: dataOperation is missing";
    return NC_EINVAL;
  }
  out->key = nc_json_str(dk, "resourceKey", "");
  out->type = nc_json_str(dk, "resourceType", "");
  out->target = nc_json_str(dk, "targetServer", "");
  out->owner = nc_json_str(body, "ncOwner", "");
  return decode_content(dd, &out->content, err);
}

int nc_distro_response_content(const cJSON *body, cJSON **out, const char **err) {
  *out = NULL;
  if (nc_json_mistyped(body, "distroData", cJSON_Object)) {
    *err = "DistroDataResponse: distroData must be an object";
    return NC_EINVAL;
  }
  return decode_content(cJSON_GetObjectItemCaseSensitive(body, "distroData"), out, err);
}

int nc_distro_response_add(cJSON *resp, const char *key, const char *type, const cJSON *content) {
  cJSON *dd = cJSON_AddObjectToObject(resp, "distroData");
  cJSON *dk = dd ? cJSON_AddObjectToObject(dd, "distroKey") : NULL;
  char *b = content ? encode_content(content) : NULL;
  if (!dk || (content && !b)) {
    free(b);
    return NC_ENOMEM;
  }
  nc_json_add_str(dk, "resourceKey", key);
  nc_json_add_str(dk, "resourceType", type ? type : NC_DISTRO_TYPE);
  nc_json_add_str(dd, "content", b);
  free(b);
  return 0;
}

cJSON *nc_distro_verify_info(const char *id, uint64_t rev) {
  cJSON *o = cJSON_CreateObject();
  if (o) {
    cJSON_AddStringToObject(o, "clientId", id);
    cJSON_AddNumberToObject(o, "revision", (double)rev);
  }
  return o;
}

int nc_distro_parse_verify_info(const cJSON *j, const char **id, uint64_t *rev,
                                const char **err) {
  const cJSON *i = cJSON_GetObjectItemCaseSensitive(j, "clientId");
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "revision");
  if (!cJSON_IsString(i) || !i->valuestring[0] || nc_json_mistyped(j, "revision", cJSON_Number) ||
      (cJSON_IsNumber(r) && r->valuedouble < 0)) {
    *err = "DistroClientVerifyInfo: clientId must be a string, revision a number >= 0";
    return NC_EINVAL;
  }
  *id = i->valuestring;
  *rev = cJSON_IsNumber(r) ? (uint64_t)r->valuedouble : 0;
  return 0;
}

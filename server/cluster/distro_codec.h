/* distro_codec: the JSON of Distro (nacos-cluster.md §3.3, §3.4) —
 * ClientSyncData (parallel arrays; InstancePublishInfo with extendDatum;
 * batchInstanceData), ClientSyncDatumSnapshot, DistroClientVerifyInfo, and
 * DistroDataRequest/Response with base64 content — plus nacos-c's own
 * extensions, which a Java peer ignores (unknown fields) or never gets:
 *   - "ncOwner" in a request body: the sending member's address;
 *   - a chunked SNAPSHOT: the request carries "ncOffset" (clients to skip)
 *     and "ncMaxBytes"; the response's "ncNext" is the next offset, absent
 *     on the last chunk;
 *   - the digest VERIFY: resourceType NC_DISTRO_DIGEST_TYPE, content
 *     {"clients":{id: revision, ...}}; the response lists the ids that did
 *     not verify in "ncMismatch".
 * Pure functions; any thread. Bad input is refused with NC_EINVAL and a
 * static message, never half-applied. */
#ifndef DISTRO_CODEC_H
#define DISTRO_CODEC_H

#include "naming_registry.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#define NC_DISTRO_TYPE "Nacos:Naming:v2:ClientData"
#define NC_DISTRO_DIGEST_TYPE "nacos-c:Naming:v2:ClientDigest"

/* ---- base64 (Jackson's byte[] encoding: standard alphabet, padded) ---- */
/* Malloc'ed NUL-terminated text; NULL on OOM. */
char *nc_b64_encode(const unsigned char *p, size_t n);
/* Malloc'ed bytes (NUL-terminated for convenience) into *out and *n;
 * NC_EINVAL for anything that is not padded standard base64. */
int nc_b64_decode(const char *s, unsigned char **out, size_t *n);

/* ---- ClientSyncData ---- */
/* The ClientSyncData of client id as the registry holds it; NULL when
 * unknown (or OOM). One publication of one instance travels as a single
 * entry, more as a batch entry. */
cJSON *nc_distro_sync_data(nc_nreg *r, const char *id);

/* A parsed ClientSyncData: entries ready for nc_nreg_sync_apply (their
 * names borrow from the cJSON it was parsed from). */
typedef struct nc_distro_client {
  const char *id;
  uint64_t revision;
  nc_nreg_entry *e;
  size_t n;
} nc_distro_client;
int nc_distro_parse_sync_data(const cJSON *j, nc_distro_client *out, const char **err);
/* Frees what nc_nreg_sync_apply did not take. */
void nc_distro_client_clear(nc_distro_client *c);

/* ---- DistroDataRequest / Response ---- */
/* A request body for op ("CHANGE", "DELETE", "VERIFY", "SNAPSHOT",
 * "QUERY"); key/type/target/content may be NULL (omitted); content is
 * serialized and base64'd (borrowed); owner is nacos-c's "ncOwner". */
cJSON *nc_distro_request(const char *op, const char *type, const char *key, const char *target,
                         const cJSON *content, const char *owner);

typedef struct nc_distro_req {
  const char *op, *type, *key, *target, *owner; /* borrowed; "" when absent */
  cJSON *content; /* decoded and parsed content, owned; NULL when absent */
} nc_distro_req;
int nc_distro_parse_request(const cJSON *body, nc_distro_req *out, const char **err);
void nc_distro_req_clear(nc_distro_req *r);

/* The content of a DistroDataResponse's distroData (snapshot, query),
 * decoded and parsed into *out (owned); *out NULL when there is none. */
int nc_distro_response_content(const cJSON *body, cJSON **out, const char **err);
/* Adds distroData {distroKey {resourceKey key, resourceType type}, content}
 * to a response body. */
int nc_distro_response_add(cJSON *resp, const char *key, const char *type, const cJSON *content);

/* {"clientId":id,"revision":rev} and back. */
cJSON *nc_distro_verify_info(const char *id, uint64_t rev);
int nc_distro_parse_verify_info(const cJSON *j, const char **id, uint64_t *rev,
                                const char **err);

#endif

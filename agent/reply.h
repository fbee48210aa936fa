/* Leaf helpers of the agent's op handlers: replies to an app, the
 * request field readers (which reply BAD_REQUEST themselves), the key and
 * identity of a service or config key, and waiters (a reply that waits
 * for an upstream round trip). Needs no agent object. Loop thread only. */
#ifndef NC_AG_REPLY_H
#define NC_AG_REPLY_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "ipc_server.h"
#include "nc_grpc_client.h"
#include "nc_payload.h"

/* ---- replies ---- */
/* {"id": id, "ok": true} plus the fields of extra (moved in; may be NULL). */
void nc_ag_ok(nc_ipc_client *c, const cJSON *id, cJSON *extra);
void nc_ag_err(nc_ipc_client *c, const cJSON *id, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps an nc_up status / Nacos response to an error reply. */
void nc_ag_err_upstream(nc_ipc_client *c, const cJSON *id, int status, const nc_msg *resp);
/* 1 when the Nacos response says success. */
int nc_ag_resp_ok(const nc_msg *resp);
/* Error replies sent so far (every nc_ag_err). Process-wide: one agent
 * per process, loop thread only. */
uint64_t nc_ag_err_count(void);

/* ---- waiters ---- */
/* A reply that waits for an upstream round trip: holds a client ref. */
typedef struct nc_ag_waiter {
  struct nc_ag_waiter *next;
  nc_ipc_client *c;
  cJSON *id;
  cJSON *clusters; /* naming.subscribe only */
  int healthy_only;
} nc_ag_waiter;
nc_ag_waiter *nc_ag_waiter_new(nc_ipc_client *c, const cJSON *id);
void nc_ag_waiter_free(nc_ag_waiter *w);

/* ---- request fields ---- */
/* Reads a required/optional string; on a problem replies BAD_REQUEST and
 * returns NULL / -1. Names are checked (no control characters, length). */
const char *nc_ag_req_name(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char *key,
                           const char *def);
/* namespace: "" and "public" are the same default namespace. */
const char *nc_ag_req_ns(nc_ipc_client *c, const cJSON *id, const cJSON *req, int *bad);

/* Identifies a service (or config key) across an upstream round trip:
 * entries may be gone (or re-created) by the time the answer comes, so
 * callbacks look them up again by name. */
typedef struct nc_ag_key {
  char *ns, *group, *service;
} nc_ag_key;
int nc_ag_key_set(nc_ag_key *k, const char *ns, const char *group, const char *service);
void nc_ag_key_clear(nc_ag_key *k);

/* The identity fields of every naming op (borrowed from the request):
 * namespace, group (default DEFAULT_GROUP), service (required). */
typedef struct nc_ag_ident {
  const char *ns, *group, *service;
} nc_ag_ident;
/* Each returns 0, or -1 after replying BAD_REQUEST. */
int nc_ag_read_ident(nc_ipc_client *c, const cJSON *id, const cJSON *req, nc_ag_ident *o);
/* ip, port (1..65535) and cluster (default DEFAULT, [0-9A-Za-z_-]). */
int nc_ag_read_addr(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char **ip,
                    int *port, const char **cluster);
int nc_ag_read_bool(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char *key,
                    int def, int *out);
/* An optional integer in min..max (def when absent). */
int nc_ag_read_int(nc_ipc_client *c, const cJSON *id, const cJSON *req, const char *key, int def,
                   int min, int max, int *out);

/* A config key (borrowed from the request): namespace, group (default
 * DEFAULT_GROUP), data_id (required; "dataId" is accepted too). */
typedef struct nc_ag_ckey {
  const char *ns, *group, *data_id;
} nc_ag_ckey;
int nc_ag_read_ckey(nc_ipc_client *c, const cJSON *id, const cJSON *req, nc_ag_ckey *k);
/* The data id field: "data_id" as the other config ops name it, or
 * "dataId" (the spelling of config.list / config.history); def as for
 * nc_ag_req_name. */
const char *nc_ag_req_data_id(nc_ipc_client *c, const cJSON *id, const cJSON *req,
                              const char *def);

/* ---- upstream config requests ---- */
/* The body every config request starts from: headers, dataId, group,
 * tenant, module. NULL on OOM. */
cJSON *nc_ag_config_body(const char *ns, const char *group, const char *data_id);
/* Reads a ConfigQueryResponse: 1 found (*content borrowed from resp), 0 the
 * server says it does not exist, -1 any other outcome. */
int nc_ag_config_found(int status, const nc_msg *resp, const char **content);

#endif

/* nc_testwire: an SDK-like test client on the repo's wire client (nc_wc)
 * with typed request builders and parsed results, so tests do not build
 * Nacos JSON by hand: connect (ServerCheck + ConnectionSetup + labels),
 * register / deregister / batch-register instances, query and subscribe
 * services, publish / get / remove config, batch-listen, and every push the
 * server sends collected (NotifySubscriberRequest, ConfigChangeNotifyRequest,
 * ClientDetectionRequest, ConnectResetRequest, ...) and acked as the SDKs
 * do unless no_auto_ack.
 *
 * Results: requests return an nc_tw_reply (the response's base fields; by
 * value, nothing to free) and fill optional typed out-structs (free them
 * with their _free function). nc_tw_call is the escape hatch for any other
 * request (or a body a test has broken on purpose); the body builders give
 * the usual JSON to start from.
 *
 * Threading: pushes are recorded on the wire client's completion-queue
 * thread under a mutex; every nc_tw_* function is called from test threads
 * (several threads may share one nc_tw). Timeouts are scaled by
 * NC_TEST_TIMEOUT_MULTIPLIER. */
#ifndef NC_TESTWIRE_H
#define NC_TESTWIRE_H

#include <cjson/cJSON.h>

#include "nc_grpc_client.h"
#include "nc_payload.h"
#include "nc_wire_client.h"

typedef struct nc_tw nc_tw;

typedef struct nc_tw_opts {
  const char *module;    /* connection label; default "naming" */
  const char *app_name;  /* label AppName; default "itest" */
  const char *client_ip; /* default "127.0.0.1" */
  const char *tenant;    /* ConnectionSetupRequest.tenant; default omitted */
  const char *ns;        /* namespace of the naming builders; default "public" */
  const char *group;     /* group of the naming builders; default "DEFAULT_GROUP" */
  int no_auto_ack;       /* 1: pushes are recorded but not acked (nc_tw_ack) */
  int timeout_ms;        /* handshake and each request; default 5000 (scaled) */
  const char *access_token; /* sent with every request (nacosd --auth on); NULL = none */
  const char *client_version; /* ConnectionSetupRequest.clientVersion; NULL = nc_wc's default
                               * (e.g. "Nacos-Python-Client:v2.0.11": a client nacosd's
                               * rebalance never moves) */
  const nc_gcli_tls *tls;   /* TLS to the server (nc_testtls.h makes files); NULL = plain */
  const cJSON *ability_table; /* sent as ConnectionSetupRequest.abilityTable (a 3.x SDK);
                               * the SetupAckRequest that answers it is recorded as a push
                               * (no requestId, not acked); borrowed for the handshake;
                               * NULL = none, as before */
  /* optional: also called for each push, on the completion-queue thread,
   * after it was recorded (must not block) */
  nc_wc_push_cb on_push;
  void *ud;
} nc_tw_opts;

/* Connects to target ("host:grpcPort"); o may be NULL. *out owned by the
 * caller (nc_tw_close). Returns nc_wc_connect's status. */
int nc_tw_connect(nc_gcli_env *env, const char *target, const nc_tw_opts *o, nc_tw **out);
/* The same, NULL on failure. */
nc_tw *nc_tw_open(nc_gcli_env *env, const char *target, const nc_tw_opts *o);
/* Closes the connection and frees everything it recorded. NULL: no-op. */
void nc_tw_close(nc_tw *tw);
nc_wc *nc_tw_wc(const nc_tw *tw);
/* The connection id from ServerCheckResponse. */
const char *nc_tw_id(const nc_tw *tw);
/* 1 once the server ended the stream (not for nc_tw_close). */
int nc_tw_closed(nc_tw *tw);

/* ---- replies ---- */

typedef struct nc_tw_reply {
  int status;       /* 0, or the transport's NC_E* (then the rest is empty) */
  char type[64];    /* e.g. "InstanceResponse", "ErrorResponse" */
  int result_code;  /* 200 on success */
  int error_code;
  int success;
  char message[256]; /* cut at 255 bytes */
} nc_tw_reply;

/* 1 when the request reached the server and resultCode was 200. */
int nc_tw_ok(const nc_tw_reply *r);
/* The base fields of m (NULL m: status NC_EIO). */
nc_tw_reply nc_tw_reply_of(const nc_msg *m);

/* cmocka checks (they fail the current test): the reply came, has type and
 * resultCode 200, errorCode 0, success true ... */
void nc_tw_expect_ok(nc_tw_reply r, const char *type);
/* ... or the failure a typed response carries: resultCode 500, error_code,
 * success false and msg_part (may be NULL) within the message. */
void nc_tw_expect_fail(nc_tw_reply r, const char *type, int error_code, const char *msg_part);

/* Any request: sends body (consumed; NULL is an empty object) as type.
 * Returns the response (owned by the caller, nc_msg_free) or NULL on a
 * transport failure. */
nc_msg *nc_tw_call(nc_tw *tw, const char *type, cJSON *body);
/* The same, keeping only the base fields. */
nc_tw_reply nc_tw_call_reply(nc_tw *tw, const char *type, cJSON *body);

/* ---- naming ---- */

typedef struct nc_tw_instance {
  const char *ip;
  int port;
  double weight;       /* 0: 1.0 */
  const char *cluster; /* NULL: "DEFAULT" */
  int disabled;        /* 1: enabled=false */
  int unhealthy;       /* 1: healthy=false */
  const char *const *metadata; /* key, value, ..., NULL; may be NULL */
} nc_tw_instance;

/* {namespace, serviceName, groupName, module:"naming", headers} with the
 * client's namespace and group (tw NULL: "public", "DEFAULT_GROUP"). Owned
 * by the caller. */
cJSON *nc_tw_naming_body(const nc_tw *tw, const char *svc);
/* An InstanceRequest body of type ("registerInstance" or
 * "deregisterInstance"). Owned by the caller. */
cJSON *nc_tw_instance_body(const nc_tw *tw, const char *svc, const char *type,
                           const nc_tw_instance *in);

nc_tw_reply nc_tw_register(nc_tw *tw, const char *svc, const nc_tw_instance *in);
nc_tw_reply nc_tw_deregister(nc_tw *tw, const char *svc, const nc_tw_instance *in);
/* BatchInstanceRequest batchRegisterInstance with n instances. */
nc_tw_reply nc_tw_batch_register(nc_tw *tw, const char *svc, const nc_tw_instance *in, int n);

typedef struct nc_tw_host {
  char ip[64];
  int port;
  double weight;
  int healthy, enabled;
  char cluster[64];
  char instance_id[256];
} nc_tw_host;

/* A ServiceInfo (query or subscribe reply, or a push). */
typedef struct nc_tw_service {
  char name[256], group[256], clusters[256];
  long long last_ref_time, cache_millis;
  int nhosts;        /* -1 when the hosts array was absent */
  nc_tw_host *hosts; /* nhosts entries, malloc'ed */
  cJSON *info;       /* the whole serviceInfo object, owned */
} nc_tw_service;
/* Frees what s holds and zeroes it (hosts, info). */
void nc_tw_service_free(nc_tw_service *s);

/* ServiceQueryRequest; out (may be NULL) gets the ServiceInfo (free it
 * with nc_tw_service_free, also after a failed reply). */
nc_tw_reply nc_tw_query(nc_tw *tw, const char *svc, nc_tw_service *out);
/* Number of hosts a query returns; -1 when the query failed. */
int nc_tw_query_hosts(nc_tw *tw, const char *svc);
/* SubscribeServiceRequest (subscribe 1) or unsubscribe (0); out as for
 * nc_tw_query. The pushes that follow are recorded (nc_tw_wait_notify). */
nc_tw_reply nc_tw_subscribe(nc_tw *tw, const char *svc, int subscribe, nc_tw_service *out);
/* ServiceListRequest of the client's namespace and group; *count = total,
 * *names (may be NULL) = the serviceNames array, owned by the caller. */
nc_tw_reply nc_tw_service_list(nc_tw *tw, int page_no, int page_size, long long *count,
                               cJSON **names);

/* ---- config ---- */

/* {dataId, group, tenant, module:"config", headers}; NULL fields omitted.
 * Owned by the caller. */
cJSON *nc_tw_config_body(const char *data_id, const char *group, const char *tenant);

/* ConfigPublishRequest (with the additionMap Java sends); content and
 * cas_md5 may be NULL (omitted). */
nc_tw_reply nc_tw_config_publish(nc_tw *tw, const char *data_id, const char *group,
                                 const char *tenant, const char *content, const char *cas_md5);
typedef struct nc_tw_config {
  char *content; /* malloc'ed; NULL when absent */
  char md5[40];
  long long last_modified;
  char content_type[32];
  cJSON *body; /* the whole response body, owned */
} nc_tw_config;
void nc_tw_config_free(nc_tw_config *c);
/* ConfigQueryRequest; out may be NULL (free it with nc_tw_config_free). */
nc_tw_reply nc_tw_config_get(nc_tw *tw, const char *data_id, const char *group,
                             const char *tenant, nc_tw_config *out);
nc_tw_reply nc_tw_config_remove(nc_tw *tw, const char *data_id, const char *group,
                                const char *tenant);

typedef struct nc_tw_listen {
  const char *data_id, *group, *tenant, *md5; /* NULL: omitted */
} nc_tw_listen;
/* ConfigBatchListenRequest listen (1) or unlisten (0) of n contexts.
 * *changed (may be NULL) = the changedConfigs array (owned by the caller,
 * NULL when absent); the reply's count of it goes to *nchanged (may be
 * NULL; -1 when absent). */
nc_tw_reply nc_tw_config_listen(nc_tw *tw, int listen, const nc_tw_listen *ctx, int n,
                                int *nchanged, cJSON **changed);
/* One key: listen with md5 (NULL: ""). */
nc_tw_reply nc_tw_listen_one(nc_tw *tw, int listen, const char *data_id, const char *group,
                             const char *tenant, const char *md5);

/* ---- pushes ---- */

/* Pushes of type (NULL: any) recorded so far. */
int nc_tw_push_count(nc_tw *tw, const char *type);
/* Waits until nc_tw_push_count(type) >= want; returns the count then (less
 * than want on timeout). */
int nc_tw_wait_pushes(nc_tw *tw, const char *type, int want, int timeout_ms);
/* A copy of the index-th push body of type (negative: from the end, -1 the
 * last), owned by the caller; NULL when there is none. rid (cap >= 32, may
 * be NULL) gets its requestId. */
cJSON *nc_tw_push_get(nc_tw *tw, const char *type, int index, char *rid, size_t cap);
/* Acks a push by requestId with resp_type (e.g. "NotifySubscriberResponse"),
 * resultCode 200 when ok else 500. For no_auto_ack clients. */
int nc_tw_ack(nc_tw *tw, const char *resp_type, const char *rid, int ok);

/* NotifySubscriberRequests for service svc (bare name) so far. */
int nc_tw_notify_count(nc_tw *tw, const char *svc);
/* Waits until nc_tw_notify_count(svc) >= want; returns the count then.
 * last (may be NULL) gets the newest such push's ServiceInfo (free it). */
int nc_tw_wait_notify(nc_tw *tw, const char *svc, int want, int timeout_ms, nc_tw_service *last);

typedef struct nc_tw_change {
  char data_id[256], group[256], tenant[256], module[32], request_id[32];
} nc_tw_change;
/* ConfigChangeNotifyRequests for data_id (NULL: any) so far. */
int nc_tw_change_count(nc_tw *tw, const char *data_id);
/* Waits until nc_tw_change_count(data_id) >= want; returns the count then;
 * last (may be NULL) gets the newest one. */
int nc_tw_wait_change(nc_tw *tw, const char *data_id, int want, int timeout_ms,
                      nc_tw_change *last);

#endif

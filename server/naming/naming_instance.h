/* naming_instance: one naming Instance (nacos-wire-protocol.md §5.3) —
 * parsing and validation of the client's JSON, comparison for idempotent
 * replays, and the server's output form with the derived fields. Pure
 * functions over an opaque value; any thread. */
#ifndef NAMING_INSTANCE_H
#define NAMING_INSTANCE_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct nc_ninst nc_ninst;

/* Parses and validates one Instance JSON object for service group@@name.
 * On error returns NC_EINVAL and points *err at a static message
 * (clusterName pattern, missing ip, a port not an integer 0..65535, a weight
 * not a number 0..10000, heartbeat timeouts), or
 * NC_ENOMEM. *out is owned by the caller (nc_ninst_free). */
int nc_ninst_parse(const cJSON *j, const char *group, const char *name, nc_ninst **out,
                   const char **err);
void nc_ninst_free(nc_ninst *in);

/* Number of metadata entries and the bytes of their keys and values. */
void nc_ninst_metadata_size(const nc_ninst *in, size_t *keys, size_t *bytes);

/* 1 when every stored field is the same. */
int nc_ninst_equal(const nc_ninst *a, const nc_ninst *b);
int nc_ninst_enabled(const nc_ninst *in);
int nc_ninst_healthy(const nc_ninst *in);
/* Marks the instance ephemeral (1) or persistent (0): a connection-bound
 * InstanceRequest registers ephemeral instances whatever their
 * "ephemeral" says, as Nacos does (its InstanceRequestHandler makes the
 * service ephemeral and lists instances with the service's kind). */
void nc_ninst_set_ephemeral(nc_ninst *in, int ephemeral);
const char *nc_ninst_cluster(const nc_ninst *in); /* "DEFAULT" when blank */

/* The output object: instanceId (client's or ip#port#cluster#group@@name),
 * serviceName group@@name, metadata, derived heartbeat fields. New object
 * owned by the caller; NULL on OOM. */
cJSON *nc_ninst_to_json(const nc_ninst *in, const char *group, const char *name);

/* "ip:port:cluster" (Nacos's metadataId) into buf: the identity by which
 * copies of one instance from several clients are deduped. */
const char *nc_ninst_addr_key(const nc_ninst *in, char *buf, size_t cap);

/* Distro's InstancePublishInfo (nacos-cluster.md §3.4): ip, port, healthy,
 * cluster, extendDatum (the metadata plus customInstanceId, a double
 * publishInstanceWeight when the weight is not 1.0, publishInstanceEnable
 * false when disabled) and metadataId. New object owned by the caller. */
cJSON *nc_ninst_to_publish_info(const nc_ninst *in);
/* The reverse, for service group@@name; wrong types and missing ip/port
 * are NC_EINVAL with *err a static message; metadataId is ignored. */
int nc_ninst_from_publish_info(const cJSON *j, const char *group, const char *name,
                               nc_ninst **out, const char **err);

#endif

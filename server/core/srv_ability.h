/* srv_ability: Nacos 3.x ability negotiation at connection setup
 * (nacos-wire-protocol.md §4.4 step 4, §4.5; docs/protocol-3x.md).
 *
 * A ConnectionSetupRequest that carries an `abilityTable` object (Java 2.3+,
 * Java 3.x, Python >= 3.0) is answered, right after registration, with one
 * SetupAckRequest on the bi-stream holding the server's table; such clients
 * wait up to 5 s for it once ServerCheckResponse said
 * supportAbilityNegotiation:true, and drop the connection without it. A
 * setup without the field (Go v2.x, Python 2.0.x, nacos-c's own clients)
 * gets nothing, as before. The client's table is kept on the connection
 * and shown by the loader's /current.
 *
 * Threading: the server loop thread (nc_ability_send_ack); the codec
 * functions are pure. */
#ifndef SRV_ABILITY_H
#define SRV_ABILITY_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "srv_rpc.h"

/* Most entries of a client's table kept (the 3.x SDKs send two or three);
 * longer keys than NC_ABILITY_KEY_MAX bytes are dropped. */
#define NC_ABILITY_MAX 32
#define NC_ABILITY_KEY_MAX 64

/* The server's ability table: every key a Nacos 3.x server reports, each
 * true only when nacosd implements it (none today). Owned by the caller;
 * NULL on OOM. */
cJSON *nc_ability_server_table(void);

/* The client's table from a ConnectionSetupRequest body: *out = a copy of
 * its boolean entries (at most NC_ABILITY_MAX, other values skipped), or
 * NULL when the body has no abilityTable object (JSON null, absent, not an
 * object: a client that does not negotiate). *out owned by the caller.
 * 0, or NC_ENOMEM (then *out is NULL). */
int nc_ability_client_table(const cJSON *setup_body, cJSON **out);

/* The SetupAckRequest payload (proto bytes, malloc'ed into *buf): body
 * {"abilityTable":{...},"module":"internal","headers":{}}, no requestId (no
 * ack is expected). 0 or NC_ENOMEM. */
int nc_ability_setup_ack(uint8_t **buf, size_t *len);

/* Sends the SetupAckRequest to registered connection c (loop thread).
 * 0 or the send's NC_E*. */
int nc_ability_send_ack(nc_srv *srv, nc_conn *c);

#endif

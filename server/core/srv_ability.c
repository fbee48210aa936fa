/* srv_ability: see srv_ability.h. */
#include "srv_ability.h"

#include "nc_err.h"
#include "nc_log.h"
#include "nc_payload.h"
#include "srv_outbox.h"
#include "srv_priv.h"

#include <stdlib.h>
#include <string.h>

/* The keys Nacos 3.x servers put in SetupAckRequest (AbilityKey, mode
 * SERVER; 3.0.3+), each true only for what nacosd implements:
 * - supportPersistentInstanceByGrpc: PersistentInstanceRequest is served
 *   (naming_pstore.c; docs/persistent.md), so the Java SDK registers
 *   ephemeral=false instances over gRPC.
 * - fuzzyWatch: served (naming_fuzzy.c, config_fuzzy.c; docs/fuzzy-watch.md).
 * - lock, mcp: no distributed lock or MCP registry; with false the 3.x
 *   SDKs refuse those calls locally (501) rather than sending requests
 *   nacosd cannot serve.
 * Flip a value here when its feature lands. */
static const struct {
  const char *key;
  int supported;
} server_abilities[] = {
    {"supportPersistentInstanceByGrpc", 1},
    {"fuzzyWatch", 1},
    {"lock", 0},
    {"mcp", 0},
};

cJSON *nc_ability_server_table(void) {
  cJSON *t = cJSON_CreateObject();
  for (size_t i = 0; t && i < sizeof(server_abilities) / sizeof(server_abilities[0]); i++)
    if (!cJSON_AddBoolToObject(t, server_abilities[i].key, server_abilities[i].supported)) {
      cJSON_Delete(t);
      t = NULL;
    }
  return t;
}

int nc_ability_client_table(const cJSON *setup_body, cJSON **out) {
  *out = NULL;
  const cJSON *in = cJSON_GetObjectItemCaseSensitive(setup_body, "abilityTable");
  if (!cJSON_IsObject(in))
    return 0;
  cJSON *t = cJSON_CreateObject();
  if (!t)
    return NC_ENOMEM;
  int n = 0;
  for (const cJSON *it = in->child; it && n < NC_ABILITY_MAX; it = it->next) {
    /* Java reads the table as Map<String, Boolean>; anything else is not
     * an ability, and a key seen twice keeps its first value. */
    if (!cJSON_IsBool(it) || !it->string || !it->string[0] ||
        strlen(it->string) > NC_ABILITY_KEY_MAX || cJSON_HasObjectItem(t, it->string))
      continue;
    if (!cJSON_AddBoolToObject(t, it->string, cJSON_IsTrue(it))) {
      cJSON_Delete(t);
      return NC_ENOMEM;
    }
    n++;
  }
  *out = t;
  return 0;
}

int nc_ability_setup_ack(uint8_t **buf, size_t *len) {
  int rc = NC_ENOMEM;
  *buf = NULL;
  *len = 0;
  cJSON *b = cJSON_CreateObject();
  cJSON *t = nc_ability_server_table();
  if (!b || !t)
    goto out;
  cJSON_AddItemToObject(b, "abilityTable", t);
  t = NULL;
  if (!cJSON_AddStringToObject(b, "module", "internal") || !cJSON_AddObjectToObject(b, "headers"))
    goto out;
  rc = nc_payload_encode_json("SetupAckRequest", "", b, buf, len);
out:
  cJSON_Delete(t);
  cJSON_Delete(b);
  return rc;
}

int nc_ability_send_ack(nc_srv *srv, nc_conn *c) {
  uint8_t *buf = NULL;
  size_t len = 0;
  int rc = nc_ability_setup_ack(&buf, &len);
  if (rc != 0)
    return rc;
  if (srv->ob) {
    /* Through the outbox like the pushes that may follow, so it stays
     * first on the stream; no requestId, so a refusal reported back by the
     * outbox matches no pending push and is dropped. */
    return nc_outbox_send(srv->ob, c->g, c->stream_id, c->id, "", buf, len);
  }
  rc = nc_gsrv_stream_send(c->g, c->stream_id, buf, len);
  free(buf);
  return rc;
}

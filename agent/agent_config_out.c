/* Config content on its way to the apps: what the server said about a key
 * stored (memory when listened, disk always), config.changed to the key's
 * listeners, and the replies that carry content. The upstream side
 * (queries, listens, publish, redo) is agent_config.c. */
#include "agent_config_out.h"
#include "nc_md5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nc_ag_cfgout_reply(nc_ipc_client *c, const cJSON *id, const char *content, const char *md5,
                        int stale, int listen) {
  cJSON *r = cJSON_CreateObject();
  if (!r)
    return;
  if (content) {
    cJSON_AddStringToObject(r, "content", content);
    cJSON_AddStringToObject(r, "md5", md5);
    if (listen)
      cJSON_AddBoolToObject(r, "exists", 1);
  } else {
    cJSON_AddBoolToObject(r, "exists", 0);
  }
  if (stale)
    cJSON_AddBoolToObject(r, "stale", 1);
  nc_ag_ok(c, id, r);
}

static int is_waiter(const nc_ag_waiter *w, const void *owner) {
  for (; w; w = w->next)
    if (w->c == owner)
      return 1;
  return 0;
}

/* Apps waiting for a reply get the same content there. */
void nc_ag_cfgout_changed(nc_st_cfg *cfg, const nc_ag_waiter *skip) {
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return;
  cJSON_AddStringToObject(o, "event", "config.changed");
  cJSON_AddStringToObject(o, "namespace", cfg->ns);
  cJSON_AddStringToObject(o, "group", cfg->group);
  cJSON_AddStringToObject(o, "data_id", cfg->data_id);
  cJSON_AddStringToObject(o, "content", cfg->exists ? cfg->content : "");
  cJSON_AddStringToObject(o, "md5", cfg->md5);
  if (!cfg->exists)
    cJSON_AddBoolToObject(o, "deleted", 1);
  char *s = cJSON_PrintUnformatted(o), key[1024];
  /* a newer content of the same key replaces an unsent older one */
  snprintf(key, sizeof(key), "c\x1f%s\x1f%s\x1f%s", cfg->ns, cfg->group, cfg->data_id);
  if (s) {
    for (size_t i = 0; i < cfg->n; i++)
      if (!is_waiter(skip, cfg->owners[i]))
        nc_ipc_client_send_event(cfg->owners[i], key, s, strlen(s));
    free(s);
  }
  cJSON_Delete(o);
}

/* An unknown entry's listeners were told `exists: false` (see query_done
 * in agent_config.c), so learning that it is absent is no news for them. */
int nc_ag_cfgout_store(nc_agent *ag, const char *ns, const char *group, const char *data_id,
                       const char *content, int from_get) {
  nc_st_cfg *cfg = nc_st_cfg_get(ag->st, ns, group, data_id);
  /* Queries run in parallel, so a config.get answer may be older than what
   * a refresh already stored: listened keys are kept (memory and disk) by
   * their listen/refresh queries only, which never overlap per key. */
  if (cfg && from_get)
    return 0;
  if (content) {
    char md5[33];
    nc_md5_hex(content, strlen(content), md5);
    nc_cache_put_config(ag->cache, ns, group, data_id, content, md5);
  } else {
    nc_cache_del_config(ag->cache, ns, group, data_id);
  }
  if (!cfg)
    return 0;
  int was_known = cfg->known, was_exists = cfg->exists;
  char old[33];
  memcpy(old, cfg->md5, sizeof(old));
  nc_st_cfg_set(cfg, content);
  if (!was_known)
    return cfg->exists ? 1 : 0;
  return was_exists != cfg->exists || strcmp(old, cfg->md5) != 0 ? 2 : 0;
}

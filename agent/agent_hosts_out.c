/* Host lists on their way to the apps: a new list applied to a subscribed
 * service (memory, disk, naming.changed to its local subscribers) and the
 * replies that carry a list. The upstream side (subscribe, query, push,
 * redo) is agent_naming.c. */
#include "agent_hosts_out.h"
#include "link.h"
#include "hosts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The server pushes a new subscriber's list on its own, and that push may
 * overtake the subscribe response: an app still waiting for its reply
 * gets the list there, not as an event before (or besides) it. */
static int awaits_reply(const nc_ag_waiter *waiting, const void *owner) {
  for (const nc_ag_waiter *w = waiting; w; w = w->next) {
    if (w->c == owner)
      return 1;
  }
  return 0;
}

/* The naming.changed line for s with hosts (moved in), or NULL. */
static char *changed_text(const nc_st_svc *s, cJSON *hosts) {
  cJSON *o = cJSON_CreateObject();
  if (!o) {
    cJSON_Delete(hosts);
    return NULL;
  }
  cJSON_AddStringToObject(o, "event", "naming.changed");
  cJSON_AddStringToObject(o, "namespace", s->ns);
  cJSON_AddStringToObject(o, "group", s->group);
  cJSON_AddStringToObject(o, "service", s->service);
  cJSON_AddItemToObject(o, "hosts", hosts);
  char *t = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return t;
}

/* Tells every subscriber whose view changed; never the same list twice.
 * hosts is the service's new list (borrowed), already stored in s. The
 * subscribers without a cluster filter (most) see exactly that list: its
 * hash is s->hosts_hash and their event is printed once for all of them. */
/* The coalescing key of a subscription's events: its service and filter. */
static void sub_key(char *buf, size_t cap, const nc_st_svc *s, const nc_st_sub *sub) {
  snprintf(buf, cap, "n\x1f%s\x1f%s\x1f%s\x1f%p", s->ns, s->group, s->service,
           (void *)sub->clusters);
}

static void fanout(nc_st_svc *s, const cJSON *hosts, const nc_ag_waiter *waiting) {
  char *all = NULL, key[1024];
  for (size_t i = 0; i < s->n; i++) {
    nc_st_sub *sub = &s->subs[i];
    if (awaits_reply(waiting, sub->owner))
      continue;
    if (!sub->clusters) {
      if (s->hosts_hash == sub->last_hash)
        continue;
      if (!all) {
        cJSON *d = cJSON_Duplicate(hosts, 1);
        if (!d || !(all = changed_text(s, d)))
          continue;
      }
      sub->last_hash = s->hosts_hash;
      sub_key(key, sizeof(key), s, sub);
      nc_ipc_client_send_event(sub->owner, key, all, strlen(all));
      continue;
    }
    cJSON *h = nc_hosts_filter(hosts, sub->clusters, 0);
    if (!h)
      continue;
    uint64_t hash = nc_hosts_hash(h);
    if (hash == sub->last_hash) {
      cJSON_Delete(h);
      continue;
    }
    sub->last_hash = hash;
    char *t = changed_text(s, h);
    sub_key(key, sizeof(key), s, sub);
    if (t)
      nc_ipc_client_send_event(sub->owner, key, t, strlen(t));
    free(t);
  }
  free(all);
}

int nc_ag_hosts_older(const nc_st_svc *s, long long ref) {
  return ref > 0 && s->last_ref > 0 && ref < s->last_ref;
}

void nc_ag_hosts_apply(nc_agent *ag, nc_st_svc *s, cJSON *hosts, long long ref,
                       const nc_ag_waiter *waiting) {
  if (nc_ag_hosts_older(s, ref)) {
    cJSON_Delete(hosts);
    return;
  }
  if (nc_st_svc_set_hosts(s, hosts) == 0) {
    if (ref > 0)
      s->last_ref = ref;
    s->fresh = 1;
    nc_cache_put_hosts(ag->cache, s->ns, s->group, s->service, hosts);
    fanout(s, hosts, waiting);
  }
  cJSON_Delete(hosts);
}

void nc_ag_hosts_reply(nc_ipc_client *c, const cJSON *id, const cJSON *hosts,
                       const cJSON *clusters, int healthy_only, int stale, uint64_t *hash) {
  cJSON *r = cJSON_CreateObject();
  cJSON *h = nc_hosts_filter(hosts, clusters, healthy_only);
  if (!r || !h) {
    cJSON_Delete(r);
    cJSON_Delete(h);
    nc_ag_err(c, id, "INTERNAL", "out of memory");
    return;
  }
  if (hash)
    *hash = nc_hosts_hash(h);
  cJSON_AddItemToObject(r, "hosts", h);
  if (stale)
    cJSON_AddBoolToObject(r, "stale", 1);
  nc_ag_ok(c, id, r);
}

/* Without a filter the stored JSON text is spliced into the reply: the hot
 * path of naming.instances and naming.subscribe builds no cJSON tree at
 * all. */
void nc_ag_hosts_reply_svc(nc_ipc_client *c, const cJSON *id, const nc_st_svc *s,
                           const cJSON *clusters, int healthy_only, int stale, uint64_t *hash) {
  if (clusters || healthy_only || !s->hosts_json) {
    cJSON *h = nc_st_svc_hosts(s);
    nc_ag_hosts_reply(c, id, h, clusters, healthy_only, stale, hash);
    cJSON_Delete(h);
    return;
  }
  char *ids = id ? cJSON_PrintUnformatted(id) : NULL;
  size_t n = strlen(s->hosts_json) + (ids ? strlen(ids) : 4) + 64;
  char *buf = malloc(n);
  if (buf) {
    int len = snprintf(buf, n, "{\"id\":%s,\"ok\":true,\"hosts\":%s%s}", ids ? ids : "null",
                       s->hosts_json, stale ? ",\"stale\":true" : "");
    nc_ipc_client_send(c, buf, (size_t)len);
    if (hash)
      *hash = s->hosts_hash;
  } else {
    nc_ag_err(c, id, "INTERNAL", "out of memory");
  }
  free(buf);
  free(ids);
}

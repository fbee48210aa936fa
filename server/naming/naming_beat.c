/* naming_beat: see naming_beat.h. */
#include "naming_beat.h"

#include "nc_err.h"
#include "nc_log.h"
#include "nc_strmap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One (client, service): the instance as registered and its beat state. */
typedef struct entry {
  char *client, *ns, *group, *name;
  cJSON *inst;       /* owned; "healthy" follows the beat state */
  uint64_t last_ms;  /* last beat or registration, loop time */
  int unhealthy;     /* marked unhealthy by the timer (no beat) */
  uint64_t unhealthy_ms, expire_ms; /* its timeouts (metadata, else the options) */
} entry;

struct nc_nbeat {
  uv_loop_t *loop;
  nc_naming *naming;
  nc_nbeat_opts o;
  uv_timer_t timer;
  nc_strmap *entries; /* "client\nns\ngroup\nname" -> entry* */
  nc_strmap *clients; /* client id -> (entries of it, as uintptr_t) */
  size_t n_unhealthy;
  uint64_t beats, marked, expired;
};

const char *nc_nbeat_client_id(char *buf, size_t cap, const char *ip, int port) {
  snprintf(buf, cap, "%s:%d#true", ip, port);
  return buf;
}

static void entry_free(void *v) {
  entry *e = v;
  if (!e)
    return;
  free(e->client);
  free(e->ns);
  free(e->group);
  free(e->name);
  cJSON_Delete(e->inst);
  free(e);
}

/* The entry key; NULL when it does not fit. */
static const char *ekey(char *buf, size_t cap, const char *client, const char *ns,
                        const char *group, const char *name) {
  /* "" and "public" are one namespace, as in the registry */
  if (!ns || !*ns)
    ns = "public";
  int n = snprintf(buf, cap, "%s\n%s\n%s\n%s", client, ns, group, name);
  return n > 0 && (size_t)n < cap ? buf : NULL;
}

/* Publishes e's instance (healthy per e) as the client's only instance in
 * its service. */
/* A timeout from the instance's metadata (Nacos's preserved.* keys, in
 * ms), else def. */
static uint64_t meta_ms(const cJSON *inst, const char *key, uint64_t def) {
  const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(inst, "metadata"),
                                                           key));
  char *end;
  unsigned long long x = v && *v ? strtoull(v, &end, 10) : 0;
  return x > 0 && !*end ? (uint64_t)x : def;
}

static int publish(nc_nbeat *b, entry *e, const char **err) {
  nc_ninst *in = NULL;
  cJSON_DeleteItemFromObjectCaseSensitive(e->inst, "healthy");
  cJSON_AddBoolToObject(e->inst, "healthy", !e->unhealthy);
  int rc = nc_ninst_parse(e->inst, e->group, e->name, &in, err);
  if (rc)
    return rc;
  return nc_naming_publish(b->naming, e->client, e->ns, e->group, e->name, &in, 1);
}

static void client_ref(nc_nbeat *b, const char *client, int delta) {
  uintptr_t n = (uintptr_t)nc_strmap_get(b->clients, client);
  n = (uintptr_t)((intptr_t)n + delta);
  if (n)
    nc_strmap_put(b->clients, client, (void *)n, NULL);
  else
    nc_strmap_del(b->clients, client);
}

/* Unpublishes and forgets the entry under key; the client goes with its
 * last entry. */
static void remove_entry(nc_nbeat *b, const char *key) {
  entry *e = nc_strmap_del(b->entries, key);
  if (!e)
    return;
  if (e->unhealthy)
    b->n_unhealthy--;
  nc_naming_publish(b->naming, e->client, e->ns, e->group, e->name, NULL, 0);
  client_ref(b, e->client, -1);
  if (!nc_strmap_get(b->clients, e->client))
    nc_naming_drop_client(b->naming, e->client);
  entry_free(e);
}

void nc_nbeat_check(nc_nbeat *b, uint64_t now_ms) {
  nc_strmap_iter it;
  const char *key;
  void *v;
  for (nc_strmap_iter_init(&it, b->entries); nc_strmap_iter_next(&it, &key, &v);) {
    entry *e = v;
    uint64_t idle = now_ms > e->last_ms ? now_ms - e->last_ms : 0;
    if (idle >= e->expire_ms) {
      nc_info("naming: HTTP instance %s of %s@@%s expired (no beat for %llu ms)", e->client,
              e->group, e->name, (unsigned long long)idle);
      b->expired++;
      remove_entry(b, key); /* deleting the current entry is allowed */
    } else if (idle >= e->unhealthy_ms && !e->unhealthy) {
      const char *err = NULL;
      e->unhealthy = 1;
      b->n_unhealthy++;
      b->marked++;
      if (publish(b, e, &err))
        nc_warn("naming: cannot mark %s unhealthy: %s", e->client, err ? err : "error");
    }
  }
}

static void on_timer(uv_timer_t *t) {
  nc_nbeat *b = t->data;
  nc_nbeat_check(b, uv_now(b->loop));
}

int nc_nbeat_new(uv_loop_t *loop, nc_naming *n, const nc_nbeat_opts *o, nc_nbeat **out) {
  nc_nbeat *b = calloc(1, sizeof(*b));
  if (!b)
    return NC_ENOMEM;
  b->loop = loop;
  b->naming = n;
  b->o = *o;
  if (!b->o.unhealthy_ms)
    b->o.unhealthy_ms = 15000;
  if (!b->o.expire_ms)
    b->o.expire_ms = 30000;
  if (!b->o.beat_interval_ms)
    b->o.beat_interval_ms = 5000;
  b->entries = nc_strmap_new();
  b->clients = nc_strmap_new();
  if (!b->entries || !b->clients) {
    nc_strmap_free(b->entries, NULL);
    nc_strmap_free(b->clients, NULL);
    free(b);
    return NC_ENOMEM;
  }
  /* A check every fifth of the unhealthy timeout (at most 1 s): the states
   * change within 20% of their deadlines, and tests with small values do
   * not wait on a coarse tick. */
  uint64_t every = b->o.unhealthy_ms / 5;
  if (every > 1000)
    every = 1000;
  if (every < 20)
    every = 20;
  uv_timer_init(loop, &b->timer);
  b->timer.data = b;
  uv_timer_start(&b->timer, on_timer, every, every);
  uv_unref((uv_handle_t *)&b->timer);
  *out = b;
  return 0;
}

static void on_closed(uv_handle_t *h) {
  nc_nbeat *b = h->data;
  nc_strmap_free(b->entries, entry_free);
  nc_strmap_free(b->clients, NULL);
  free(b);
}

void nc_nbeat_free(nc_nbeat *b) {
  if (!b)
    return;
  uv_timer_stop(&b->timer);
  uv_close((uv_handle_t *)&b->timer, on_closed);
}

static char *sdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

int nc_nbeat_register(nc_nbeat *b, const char *ns, const char *group, const char *name,
                      const cJSON *inst, const char **err) {
  nc_ninst *probe = NULL;
  /* Validate first so a bad instance leaves the old one in place. */
  int rc = nc_ninst_parse(inst, group, name, &probe, err);
  if (rc)
    return rc;
  nc_ninst_free(probe);
  const cJSON *ip = cJSON_GetObjectItemCaseSensitive(inst, "ip");
  const cJSON *port = cJSON_GetObjectItemCaseSensitive(inst, "port");
  char client[300], key[2048];
  nc_nbeat_client_id(client, sizeof(client), ip->valuestring, (int)port->valuedouble);
  if (!ns || !*ns)
    ns = "public";
  if (!ekey(key, sizeof(key), client, ns, group, name)) {
    *err = "service name too long";
    return NC_EINVAL;
  }
  entry *e = nc_strmap_get(b->entries, key);
  cJSON *copy = cJSON_Duplicate(inst, 1);
  if (!copy)
    return NC_ENOMEM;
  if (!e) {
    e = calloc(1, sizeof(*e));
    if (!e || !(e->client = sdup(client)) || !(e->ns = sdup(ns)) || !(e->group = sdup(group)) ||
        !(e->name = sdup(name)) || nc_strmap_put(b->entries, key, e, NULL)) {
      entry_free(e);
      cJSON_Delete(copy);
      return NC_ENOMEM;
    }
    client_ref(b, client, +1);
  }
  cJSON_Delete(e->inst);
  e->inst = copy;
  if (e->unhealthy)
    b->n_unhealthy--;
  /* Registered unhealthy on purpose (healthy=false) stays so until a beat. */
  e->unhealthy = !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(inst, "healthy")) &&
                 cJSON_GetObjectItemCaseSensitive(inst, "healthy");
  if (e->unhealthy)
    b->n_unhealthy++;
  e->last_ms = uv_now(b->loop);
  e->unhealthy_ms = meta_ms(inst, "preserved.heart.beat.timeout", b->o.unhealthy_ms);
  e->expire_ms = meta_ms(inst, "preserved.ip.delete.timeout", b->o.expire_ms);
  return publish(b, e, err);
}

static entry *find(nc_nbeat *b, const char *ns, const char *group, const char *name,
                   const char *ip, int port, char *key, size_t cap) {
  char client[300];
  nc_nbeat_client_id(client, sizeof(client), ip, port);
  if (!ekey(key, cap, client, ns, group, name))
    return NULL;
  return nc_strmap_get(b->entries, key);
}

int nc_nbeat_deregister(nc_nbeat *b, const char *ns, const char *group, const char *name,
                        const char *ip, int port) {
  char key[2048];
  if (!find(b, ns, group, name, ip, port, key, sizeof(key)))
    return NC_ENOTFOUND;
  remove_entry(b, key);
  return 0;
}

int nc_nbeat_beat(nc_nbeat *b, const char *ns, const char *group, const char *name,
                  const char *ip, int port) {
  char key[2048];
  entry *e = find(b, ns, group, name, ip, port, key, sizeof(key));
  if (!e)
    return NC_ENOTFOUND;
  b->beats++;
  e->last_ms = uv_now(b->loop);
  if (e->unhealthy) {
    const char *err = NULL;
    e->unhealthy = 0;
    b->n_unhealthy--;
    if (publish(b, e, &err))
      nc_warn("naming: cannot mark %s healthy: %s", e->client, err ? err : "error");
  }
  return 0;
}

const cJSON *nc_nbeat_get(nc_nbeat *b, const char *ns, const char *group, const char *name,
                          const char *ip, int port) {
  char key[2048];
  entry *e = find(b, ns, group, name, ip, port, key, sizeof(key));
  return e ? e->inst : NULL;
}

size_t nc_nbeat_release(nc_nbeat *b, const char *client_id) {
  size_t n = 0;
  nc_strmap_iter it;
  const char *key;
  void *v;
  for (nc_strmap_iter_init(&it, b->entries); nc_strmap_iter_next(&it, &key, &v);) {
    entry *e = v;
    if (strcmp(e->client, client_id) != 0)
      continue;
    if (e->unhealthy)
      b->n_unhealthy--;
    nc_strmap_del(b->entries, key); /* deleting the current entry is allowed */
    entry_free(e);
    n++;
  }
  nc_strmap_del(b->clients, client_id);
  return n;
}

void nc_nbeat_each_client(const nc_nbeat *b, void (*fn)(void *ud, const char *client_id),
                          void *ud) {
  nc_strmap_iter it;
  const char *id;
  for (nc_strmap_iter_init(&it, b->clients); nc_strmap_iter_next(&it, &id, NULL);)
    fn(ud, id);
}

int nc_nbeat_holds(const nc_nbeat *b, const char *client_id) {
  return nc_strmap_get(b->clients, client_id) != NULL;
}

uint64_t nc_nbeat_interval_ms(const nc_nbeat *b) { return b->o.beat_interval_ms; }

void nc_nbeat_get_stats(const nc_nbeat *b, nc_nbeat_stats *st) {
  st->instances = nc_strmap_count(b->entries);
  st->unhealthy = b->n_unhealthy;
  st->clients = nc_strmap_count(b->clients);
  st->beats_total = b->beats;
  st->marked_unhealthy_total = b->marked;
  st->expired_total = b->expired;
}

void nc_nbeat_render_metrics(const nc_nbeat *b, nc_metrics_text *t) {
  nc_nbeat_stats st;
  nc_nbeat_get_stats(b, &st);
  nc_metrics_add(t, "nacosd_", "naming_http_instances",
                 "Instances registered over the HTTP open API (kept alive by beats).",
                 st.instances);
  nc_metrics_add(t, "nacosd_", "naming_http_unhealthy",
                 "HTTP-registered instances now unhealthy (no beat for --http-beat-timeout-ms).",
                 st.unhealthy);
  nc_metrics_add(t, "nacosd_", "naming_http_beats_total", "Beats received for known instances.",
                 st.beats_total);
  nc_metrics_add(t, "nacosd_", "naming_http_marked_unhealthy_total",
                 "HTTP-registered instances marked unhealthy for want of a beat.",
                 st.marked_unhealthy_total);
  nc_metrics_add(t, "nacosd_", "naming_http_expired_total",
                 "HTTP-registered instances removed for want of a beat (--http-ip-delete-timeout-ms).",
                 st.expired_total);
}

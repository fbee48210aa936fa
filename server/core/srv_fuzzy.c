/* srv_fuzzy: patterns as Nacos 3.x reads them (FuzzyGroupKeyPattern:
 * "namespace>>group>>name", the namespace literal, group and name with the
 * '*' rules of srv_fuzzy.h), watches, matched keys and changes (see
 * srv_fuzzy.h); the pushes are in srv_fuzzy_push.c. */
#include "srv_fuzzy_int.h"

#include "nc_err.h"
#include "nc_log.h"

#include <stdlib.h>
#include <string.h>

#define ONE ((void *)1)

/* ---- patterns (pure) ---- */

/* The next ">>" at or after s, or NULL. */
static const char *next_sep(const char *s, const char *end) {
  for (const char *p = s; p + 1 < end; p++)
    if (p[0] == '>' && p[1] == '>')
      return p;
  return NULL;
}

int nc_fz_split(const char *pattern, nc_fz_parts *p) {
  memset(p, 0, sizeof(*p));
  if (!pattern)
    return NC_EINVAL;
  size_t len = strnlen(pattern, NC_FZ_PATTERN_MAX + 1);
  if (len == 0 || len > NC_FZ_PATTERN_MAX)
    return NC_EINVAL;
  const char *end = pattern + len;
  const char *a = next_sep(pattern, end);
  const char *b = a ? next_sep(a + 2, end) : NULL;
  /* Java's split would ignore a fourth part; a name with ">>" in it cannot
   * be told from one, so such a pattern is refused rather than guessed. */
  if (!a || !b || next_sep(b + 2, end))
    return NC_EINVAL;
  p->ns = pattern;
  p->ns_len = (size_t)(a - pattern);
  p->group = a + 2;
  p->group_len = (size_t)(b - p->group);
  p->name = b + 2;
  p->name_len = (size_t)(end - p->name);
  if (!p->ns_len || !p->group_len || !p->name_len) {
    memset(p, 0, sizeof(*p));
    return NC_EINVAL;
  }
  return 0;
}

/* s contains / starts with / ends with the pattern's text without its
 * '*'s (Java's pattern.replace("*", "")). */
enum { M_CONTAINS, M_PREFIX, M_SUFFIX };
static int stripped_match(const char *pat, size_t len, const char *s, int how) {
  char buf[NC_FZ_PATTERN_MAX + 1];
  size_t n = 0;
  for (size_t i = 0; i < len && n < sizeof(buf) - 1; i++)
    if (pat[i] != '*')
      buf[n++] = pat[i];
  buf[n] = '\0';
  size_t sl = strlen(s);
  if (n > sl)
    return 0;
  switch (how) {
  case M_PREFIX:
    return memcmp(s, buf, n) == 0;
  case M_SUFFIX:
    return memcmp(s + sl - n, buf, n) == 0;
  default:
    return n == 0 || strstr(s, buf) != NULL;
  }
}

int nc_fz_item_match(const char *pat, size_t len, const char *s) {
  if (!s)
    s = "";
  if (!memchr(pat, '*', len))
    return strlen(s) == len && memcmp(s, pat, len) == 0;
  if (len == 1)
    return 1; /* "*" */
  int first = pat[0] == '*', last = pat[len - 1] == '*';
  if (first && last)
    return stripped_match(pat, len, s, M_CONTAINS);
  if (first)
    return stripped_match(pat, len, s, M_SUFFIX);
  if (last)
    return stripped_match(pat, len, s, M_PREFIX);
  return 0; /* a '*' only in the middle matches nothing, as in Nacos */
}

int nc_fz_match(const nc_fz_parts *p, const char *ns, const char *group, const char *name) {
  if (!ns || !*ns)
    ns = "public";
  return strlen(ns) == p->ns_len && memcmp(ns, p->ns, p->ns_len) == 0 &&
         nc_fz_item_match(p->group, p->group_len, group) &&
         nc_fz_item_match(p->name, p->name_len, name);
}

/* ---- the engine ---- */

static void pat_free(void *v) {
  fz_pat *p = v;
  if (!p)
    return;
  nc_strmap_free(p->matched, NULL);
  nc_strmap_free(p->watchers, NULL);
  free(p->text);
  free(p);
}

static void conn_pats_free(void *v) { nc_strmap_free(v, NULL); }

static void timer_closed(uv_handle_t *h) { free(h); }

int nc_fz_new(uv_loop_t *loop, nc_srv *srv, const nc_fz_kind *kind, const nc_fz_opts *o,
              nc_fz **out) {
  *out = NULL;
  if (!loop || !kind || !kind->each || kind->batch <= 0 || (!srv && (!o || !o->send || !o->drop)))
    return NC_EINVAL;
  nc_fz *f = calloc(1, sizeof(*f));
  if (!f)
    return NC_ENOMEM;
  f->loop = loop;
  f->srv = srv;
  f->kind = *kind;
  if (o)
    f->o = *o;
  if (f->o.timeout_ms <= 0)
    f->o.timeout_ms = 5000;
  if (f->o.retry_ms <= 0)
    f->o.retry_ms = 1000;
  f->pats = nc_strmap_new();
  f->conns = nc_strmap_new();
  f->pending = nc_strmap_new();
  f->timer = malloc(sizeof(*f->timer));
  if (!f->pats || !f->conns || !f->pending || !f->timer || uv_timer_init(loop, f->timer)) {
    free(f->timer);
    f->timer = NULL;
    nc_fz_free(f);
    return NC_ENOMEM;
  }
  f->timer->data = f;
  *out = f;
  return 0;
}

void nc_fz_free(nc_fz *f) {
  if (!f)
    return;
  nc_fz__pushes_free(f);
  if (f->timer) {
    uv_timer_stop(f->timer);
    uv_close((uv_handle_t *)f->timer, timer_closed);
  }
  nc_strmap_free(f->pats, pat_free);
  nc_strmap_free(f->conns, conn_pats_free);
  nc_strmap_free(f->pending, NULL);
  free(f);
}

int nc_fz__conn_watches(const nc_fz *f, const char *conn, const char *pattern) {
  nc_strmap *cp = nc_strmap_get(f->conns, conn);
  return cp && nc_strmap_get(cp, pattern) != NULL;
}

int nc_fz_watching(const nc_fz *f, const char *conn_id, const char *pattern) {
  return nc_fz__conn_watches(f, conn_id, pattern);
}

long nc_fz_matched(const nc_fz *f, const char *pattern) {
  fz_pat *p = nc_strmap_get(f->pats, pattern);
  return p ? (long)nc_strmap_count(p->matched) : -1;
}

static int at_limit(const nc_fz *f, const fz_pat *p) {
  return f->o.max_matches > 0 && nc_strmap_count(p->matched) >= (size_t)f->o.max_matches;
}

/* Adds what kind->each lists and p matches, up to the limit. */
typedef struct fill_ctx {
  nc_fz *f;
  fz_pat *p;
  int oom;
} fill_ctx;
static void fill_one(void *ud, const char *key, const char *ns, const char *group,
                     const char *name) {
  fill_ctx *c = ud;
  if (c->oom || at_limit(c->f, c->p) || !nc_fz_match(&c->p->parts, ns, group, name) ||
      nc_strmap_get(c->p->matched, key))
    return;
  if (nc_strmap_put(c->p->matched, key, ONE, NULL))
    c->oom = 1;
  else
    c->f->n_keys++;
}
/* The namespace of p as a C string for kind->each. */
static int fill_ns(nc_fz *f, fz_pat *p) {
  char ns[NC_FZ_PATTERN_MAX + 1];
  memcpy(ns, p->parts.ns, p->parts.ns_len);
  ns[p->parts.ns_len] = '\0';
  fill_ctx c = {f, p, 0};
  f->kind.each(f->kind.ud, ns, fill_one, &c);
  return c.oom ? NC_ENOMEM : 0;
}

static fz_pat *pat_get(nc_fz *f, const char *pattern) {
  fz_pat *p = nc_strmap_get(f->pats, pattern);
  if (p)
    return p;
  if (!(p = calloc(1, sizeof(*p))) || !(p->text = strdup(pattern)) ||
      !(p->matched = nc_strmap_new()) || !(p->watchers = nc_strmap_new()))
    goto fail;
  if (nc_fz_split(p->text, &p->parts) || fill_ns(f, p) ||
      nc_strmap_put(f->pats, pattern, p, NULL))
    goto fail;
  nc_debug("fuzzy %s: pattern %s matches %zu", f->kind.module, pattern,
           nc_strmap_count(p->matched));
  return p;
fail:
  if (p && p->matched)
    f->n_keys -= nc_strmap_count(p->matched);
  pat_free(p);
  return NULL;
}

static void pat_drop_if_unwatched(nc_fz *f, fz_pat *p) {
  if (nc_strmap_count(p->watchers))
    return;
  f->n_keys -= nc_strmap_count(p->matched);
  nc_strmap_del(f->pats, p->text);
  pat_free(p);
}

/* The diff of a WATCH: ADD for matched keys the client lacks, DELETE for
 * keys it holds that no longer match (not when the set is capped: it is
 * not the full set then), in batches of kind.batch. */
static int push_sync(nc_fz *f, const char *conn, fz_pat *p, const cJSON *received, int init) {
  int rc = NC_ENOMEM;
  nc_strmap *have = nc_strmap_new();
  cJSON *batches = cJSON_CreateArray(), *cur = NULL;
  fz_init *in = NULL;
  if (!have || !batches)
    goto out;
  const cJSON *k;
  cJSON_ArrayForEach(k, received) {
    if (cJSON_IsString(k) && nc_strmap_put(have, k->valuestring, ONE, NULL))
      goto out;
  }
  nc_strmap_iter it;
  const char *key;
  for (int pass = 0; pass < 2; pass++) {
    nc_strmap *from = pass ? have : p->matched, *other = pass ? p->matched : have;
    if (pass && at_limit(f, p))
      break;
    nc_strmap_iter_init(&it, from);
    while (nc_strmap_iter_next(&it, &key, NULL)) {
      if (nc_strmap_get(other, key))
        continue;
      if (!cur || cJSON_GetArraySize(cur) >= f->kind.batch) {
        if (!(cur = cJSON_CreateArray()))
          goto out;
        cJSON_AddItemToArray(batches, cur);
      }
      cJSON *c = cJSON_CreateObject();
      if (!c || !cJSON_AddStringToObject(c, f->kind.key_field, key) ||
          !cJSON_AddStringToObject(c, "changedType", pass ? f->kind.del : f->kind.add)) {
        cJSON_Delete(c);
        goto out;
      }
      cJSON_AddItemToArray(cur, c);
    }
  }
  int total = cJSON_GetArraySize(batches);
  rc = 0;
  if (total == 0) {
    if (init)
      rc = nc_fz__push_sync(f, conn, p, "FINISH_FUZZY_WATCH_INIT_NOTIFY", NULL, 0, 0, NULL);
    goto out;
  }
  if (init && !(in = calloc(1, sizeof(*in)))) {
    rc = NC_ENOMEM;
    goto out;
  }
  if (in) {
    in->total = total;
    in->refs = 1; /* ours until every batch went */
  }
  const char *type = init ? "FUZZY_WATCH_INIT_NOTIFY" : "FUZZY_WATCH_DIFF_SYNC_NOTIFY";
  for (int i = 0; i < total && rc == 0; i++) {
    cJSON *b = cJSON_DetachItemFromArray(batches, 0);
    rc = nc_fz__push_sync(f, conn, p, type, b, total, i + 1, in);
  }
out:
  if (in && --in->refs == 0)
    free(in);
  cJSON_Delete(batches);
  nc_strmap_free(have, NULL);
  return rc;
}

int nc_fz_watch(nc_fz *f, const char *conn_id, const char *pattern, const cJSON *received,
                int initializing) {
  nc_fz_parts parts;
  if (!conn_id || nc_fz_split(pattern, &parts))
    return NC_EINVAL;
  nc_strmap *cp = nc_strmap_get(f->conns, conn_id);
  int had = cp && nc_strmap_get(cp, pattern);
  if (!had && cp && f->o.max_patterns > 0 && nc_strmap_count(cp) >= (size_t)f->o.max_patterns) {
    f->st.refused_patterns++;
    nc_info("fuzzy %s: conn %s refused pattern %s: it watches %zu (the limit)", f->kind.module,
            conn_id, pattern, nc_strmap_count(cp));
    return NC_FZ_ERR_PATTERNS;
  }
  int new_cp = 0;
  if (!cp) {
    if (!(cp = nc_strmap_new()) || nc_strmap_put(f->conns, conn_id, cp, NULL)) {
      nc_strmap_free(cp, NULL);
      return NC_ENOMEM;
    }
    new_cp = 1;
  }
  fz_pat *p = pat_get(f, pattern);
  if (!p || (!had && (nc_strmap_put(cp, pattern, ONE, NULL) ||
                      nc_strmap_put(p->watchers, conn_id, ONE, NULL)))) {
    if (p && !had) {
      nc_strmap_del(cp, pattern);
      nc_strmap_del(p->watchers, conn_id);
      pat_drop_if_unwatched(f, p);
    }
    if (new_cp)
      nc_strmap_free(nc_strmap_del(f->conns, conn_id), NULL);
    return NC_ENOMEM;
  }
  if (!had)
    f->n_watches++;
  int rc = push_sync(f, conn_id, p, received, initializing);
  if (rc)
    nc_warn("fuzzy %s: sync of %s to conn %s not sent: %s", f->kind.module, pattern, conn_id,
            nc_strerror(rc));
  if (at_limit(f, p)) {
    f->st.over_matches++;
    return NC_FZ_ERR_MATCHES;
  }
  return 0;
}

int nc_fz_cancel(nc_fz *f, const char *conn_id, const char *pattern) {
  nc_strmap *cp = nc_strmap_get(f->conns, conn_id);
  if (!cp || !nc_strmap_del(cp, pattern))
    return 0;
  f->n_watches--;
  fz_pat *p = nc_strmap_get(f->pats, pattern);
  if (p) {
    nc_strmap_del(p->watchers, conn_id);
    pat_drop_if_unwatched(f, p);
  }
  if (!nc_strmap_count(cp)) {
    nc_strmap_del(f->conns, conn_id);
    nc_strmap_free(cp, NULL);
  }
  return 0;
}

void nc_fz_conn_down(nc_fz *f, const char *conn_id) {
  nc_strmap *cp = nc_strmap_del(f->conns, conn_id);
  nc_fz__forget_conn(f, conn_id);
  if (!cp)
    return;
  nc_strmap_iter it;
  const char *pattern;
  nc_strmap_iter_init(&it, cp);
  while (nc_strmap_iter_next(&it, &pattern, NULL)) {
    f->n_watches--;
    fz_pat *p = nc_strmap_get(f->pats, pattern);
    if (p) {
      nc_strmap_del(p->watchers, conn_id);
      pat_drop_if_unwatched(f, p);
    }
  }
  nc_strmap_free(cp, NULL);
}

/* After a removal from a capped set: take in keys left out before. */
static void makeup(nc_fz *f, fz_pat *p) { (void)fill_ns(f, p); }

void nc_fz_changed(nc_fz *f, const char *key, const char *ns, const char *group,
                   const char *name, int exists) {
  if (!key || !nc_strmap_count(f->pats))
    return;
  nc_strmap *targets = NULL;
  int changed = 0;
  nc_strmap_iter it;
  void *v;
  nc_strmap_iter_init(&it, f->pats);
  while (nc_strmap_iter_next(&it, NULL, &v)) {
    fz_pat *p = v;
    if (!nc_fz_match(&p->parts, ns, group, name))
      continue;
    int has = nc_strmap_get(p->matched, key) != NULL;
    if (exists && !has) {
      if (at_limit(f, p)) {
        nc_debug("fuzzy %s: %s not reported to pattern %s: it holds %d keys (the limit)",
                f->kind.module, key, p->text, f->o.max_matches);
        goto watchers;
      }
      if (nc_strmap_put(p->matched, key, ONE, NULL))
        goto watchers;
      f->n_keys++;
      changed = 1;
    } else if (!exists && has) {
      int was_full = at_limit(f, p);
      nc_strmap_del(p->matched, key);
      f->n_keys--;
      changed = 1;
      if (was_full)
        makeup(f, p);
    }
  watchers:
    /* Every watcher of every matching pattern hears of it, as in Nacos. */
    if (!targets && !(targets = nc_strmap_new()))
      return;
    nc_strmap_iter wi;
    const char *conn;
    nc_strmap_iter_init(&wi, p->watchers);
    while (nc_strmap_iter_next(&wi, &conn, NULL))
      (void)nc_strmap_put(targets, conn, ONE, NULL);
  }
  if (changed && targets) {
    const char *conn;
    nc_strmap_iter_init(&it, targets);
    while (nc_strmap_iter_next(&it, &conn, NULL))
      (void)nc_fz__push_notify(f, conn, key, exists ? f->kind.notify_add : f->kind.del);
  }
  nc_strmap_free(targets, NULL);
}

int nc_fz_active(const nc_fz *f) { return nc_strmap_count(f->pats) > 0; }

void nc_fz_get_stats(const nc_fz *f, nc_fz_stats *st) {
  *st = f->st;
  st->patterns = nc_strmap_count(f->pats);
  st->conns = nc_strmap_count(f->conns);
  st->watches = f->n_watches;
  st->matched_keys = f->n_keys;
}

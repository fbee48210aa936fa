/* config_routes_listen: POST /nacos/v1/cs/configs/listener, the 1.x HTTP
 * long-poll (Nacos's ConfigController.listener / LongPollingService), see
 * config_routes.h. A held poll is one small record (its keys in one
 * buffer) in a list ordered by deadline, with one timer for the whole list
 * armed at the earliest deadline: nothing runs while polls wait. A change
 * (any writer: HTTP, gRPC, another node via cluster sync) scans the list
 * and answers every poll holding the key at once. */
#include "config_routes_int.h"

#include "config_util.h"
#include "nc_err.h"
#include "nc_log.h"
#include "oapi_result.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MIN_HOLD_MS 10000     /* Nacos: max(10 s, timeout - 500 ms) */
#define MAX_HOLD_MS 3600000   /* a sane bound on what a client may ask */
#define HOLD_MARGIN_MS 500
#define ERR_DELAY_MS 1000     /* errors wait: clients re-poll at once */
#define MAX_KEYS 10000        /* keys in one poll */

typedef struct lkey {
  const char *data_id, *group, *tenant; /* the client's strings, in buf */
  char *gk;                             /* group key, normalised tenant (owned) */
} lkey;

struct nc_lpoll {
  nc_lpoll *prev, *next;
  nc_croutes *cr;
  nc_http_req *r;
  uint64_t deadline;
  int err_status;      /* != 0: answer this error at the deadline */
  const char *err_msg; /* static */
  char *buf;           /* the parsed Listening-Configs (owned) */
  size_t n;
  lkey keys[];
};

static void on_timer(uv_timer_t *t);

/* ---- the held list ---- */

static void unlink_poll(nc_croutes *cr, nc_lpoll *p) {
  if (p->prev)
    p->prev->next = p->next;
  else
    cr->head = p->next;
  if (p->next)
    p->next->prev = p->prev;
  else
    cr->tail = p->prev;
  p->prev = p->next = NULL;
  cr->held--;
}

static void free_poll(nc_lpoll *p) {
  for (size_t i = 0; i < p->n; i++)
    free(p->keys[i].gk);
  free(p->buf);
  free(p);
}

/* The timer at the earliest deadline, or stopped when nothing is held. */
static void arm(nc_croutes *cr) {
  if (!cr->head) {
    uv_timer_stop(&cr->timer);
    return;
  }
  uint64_t now = uv_now(cr->timer.loop);
  uv_timer_start(&cr->timer, on_timer, cr->head->deadline > now ? cr->head->deadline - now : 0,
                 0);
}

/* Inserted by deadline, from the tail: polls mostly come with the same
 * timeout, so this is O(1) in practice. */
static void insert_poll(nc_croutes *cr, nc_lpoll *p) {
  nc_lpoll *at = cr->tail;
  while (at && at->deadline > p->deadline)
    at = at->prev;
  p->prev = at;
  p->next = at ? at->next : cr->head;
  if (p->next)
    p->next->prev = p;
  else
    cr->tail = p;
  if (at)
    at->next = p;
  else
    cr->head = p;
  cr->held++;
  if (cr->head == p)
    arm(cr);
}

static void on_abort(void *ud, nc_http_req *r) {
  nc_lpoll *p = ud;
  (void)r;
  nc_croutes *cr = p->cr;
  int was_head = cr->head == p;
  unlink_poll(cr, p);
  free_poll(p);
  if (was_head)
    arm(cr);
}

/* ---- answers ---- */

/* Java's URLEncoder: [A-Za-z0-9.*_-] kept, space '+', the rest %XX. */
static void url_encode(char **out, size_t *len, size_t *cap, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (*len + 4 > *cap) {
      size_t nc = *cap ? *cap * 2 : 256;
      char *nb = realloc(*out, nc);
      if (!nb)
        return;
      *out = nb;
      *cap = nc;
    }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '.' || c == '-' || c == '*' || c == '_') {
      (*out)[(*len)++] = (char)c;
    } else if (c == ' ') {
      (*out)[(*len)++] = '+';
    } else {
      (*out)[(*len)++] = '%';
      (*out)[(*len)++] = hex[c >> 4];
      (*out)[(*len)++] = hex[c & 15];
    }
  }
}

static void add_key(char **out, size_t *len, size_t *cap, const lkey *k) {
  url_encode(out, len, cap, k->data_id, strlen(k->data_id));
  url_encode(out, len, cap, "\x02", 1);
  url_encode(out, len, cap, k->group, strlen(k->group));
  if (k->tenant && *k->tenant) {
    url_encode(out, len, cap, "\x02", 1);
    url_encode(out, len, cap, k->tenant, strlen(k->tenant));
  }
  url_encode(out, len, cap, "\x01", 1);
}

/* Answers r with the keys of p marked in changed (all when changed NULL). */
static void reply_keys(nc_http_req *r, const nc_lpoll *p, const unsigned char *changed) {
  char *out = NULL;
  size_t len = 0, cap = 0;
  for (size_t i = 0; i < p->n; i++)
    if (!changed || changed[i])
      add_key(&out, &len, &cap, &p->keys[i]);
  nc_http_add_header(r, "Pragma", "no-cache");
  nc_http_add_header(r, "Cache-Control", "no-cache,no-store");
  nc_http_reply(r, 200, "text/html;charset=UTF-8", out ? out : "", len);
  free(out);
}

static void on_timer(uv_timer_t *t) {
  nc_croutes *cr = t->data;
  uint64_t now = uv_now(t->loop);
  while (cr->head && cr->head->deadline <= now) {
    nc_lpoll *p = cr->head;
    unlink_poll(cr, p);
    nc_http_req *r = p->r;
    if (p->err_status == 403) {
      nc_http_hold_abort(r, NULL, NULL);
      nc_http_reply(r, 403, "text/plain", p->err_msg, strlen(p->err_msg));
    } else if (p->err_status) {
      nc_http_hold_abort(r, NULL, NULL);
      nc_oapi_fail(r, 0, p->err_status, 0, p->err_msg);
    } else {
      cr->answered_timeout++;
      nc_http_hold_abort(r, NULL, NULL);
      nc_http_add_header(r, "Pragma", "no-cache");
      nc_http_reply(r, 200, "text/html;charset=UTF-8", "", 0);
    }
    free_poll(p);
  }
  arm(cr);
}

/* A committed change: every held poll listening to the key is answered. */
static void on_change(void *ud, const char *data_id, const char *group, const char *tenant,
                      const char *md5) {
  nc_croutes *cr = ud;
  (void)md5;
  if (!cr->head)
    return;
  char *gk = nc_cfg_group_key(data_id, group, tenant);
  if (!gk)
    return;
  int head_gone = 0;
  for (nc_lpoll *p = cr->head, *next; p; p = next) {
    next = p->next;
    if (p->err_status)
      continue;
    size_t i = 0;
    while (i < p->n && strcmp(p->keys[i].gk, gk))
      i++;
    if (i == p->n)
      continue;
    head_gone |= cr->head == p;
    unlink_poll(cr, p);
    unsigned char one[MAX_KEYS];
    memset(one, 0, p->n);
    one[i] = 1;
    nc_http_hold_abort(p->r, NULL, NULL);
    reply_keys(p->r, p, one);
    cr->answered_changed++;
    free_poll(p);
  }
  free(gk);
  if (head_gone)
    arm(cr);
}

/* ---- the request ---- */

/* Splits the Listening-Configs value (copied into buf) into p's keys.
 * Returns the poll (n keys), or NULL for a malformed one / OOM (*oom). */
static nc_lpoll *parse_keys(const char *v, int *oom) {
  size_t n = 0;
  for (const char *c = v; *c; c++)
    n += *c == '\x01';
  *oom = 0;
  if (n == 0 || n > MAX_KEYS)
    return NULL;
  nc_lpoll *p = calloc(1, sizeof(*p) + n * sizeof(lkey));
  char *buf = strdup(v);
  if (!p || !buf) {
    free(p);
    free(buf);
    *oom = 1;
    return NULL;
  }
  p->buf = buf;
  char *save = NULL;
  for (char *line = strtok_r(buf, "\x01", &save); line; line = strtok_r(NULL, "\x01", &save)) {
    char *f[5] = {0};
    int nf = 0;
    for (char *s = line; nf < 5;) {
      f[nf++] = s;
      char *sep = strchr(s, '\x02');
      if (!sep)
        break;
      *sep = '\0';
      s = sep + 1;
    }
    /* dataId, group, md5 [, tenant] */
    if (nf < 3 || nf > 4 || !*f[0] || !*f[1] || p->n >= n) {
      free_poll(p);
      return NULL;
    }
    lkey *k = &p->keys[p->n];
    k->data_id = f[0];
    k->group = f[1];
    k->tenant = nf == 4 ? f[3] : "";
    /* the md5 stays in buf at f[2]: compared once, before the hold */
    k->gk = nc_cfg_group_key(f[0], f[1], nc_cfg_norm_tenant(k->tenant));
    if (!k->gk) {
      free_poll(p);
      *oom = 1;
      return NULL;
    }
    p->n++;
  }
  return p;
}

/* The md5 field of key i (the third, right after group's NUL). */
static const char *key_md5(const lkey *k) { return k->group + strlen(k->group) + 1; }

/* An error answered after ERR_DELAY_MS (the poll, if any, is reused). */
static void delay_error(nc_croutes *cr, nc_http_req *r, nc_lpoll *p, int status,
                        const char *msg) {
  if (!p && !(p = calloc(1, sizeof(*p)))) {
    nc_oapi_fail(r, 0, 500, 0, "out of memory");
    return;
  }
  for (size_t i = 0; i < p->n; i++) {
    free(p->keys[i].gk);
    p->keys[i].gk = NULL;
  }
  p->n = 0;
  p->cr = cr;
  p->r = r;
  p->err_status = status;
  p->err_msg = msg;
  p->deadline = uv_now(cr->timer.loop) + ERR_DELAY_MS;
  nc_http_hold_abort(r, on_abort, p);
  insert_poll(cr, p);
}

void nc_crt_listener(void *ud, nc_http_req *r) {
  nc_croutes *cr = ud;
  const char *v = nc_http_param(r, "Listening-Configs");
  int oom = 0;
  nc_lpoll *p = v && *v ? parse_keys(v, &oom) : NULL;
  if (!p) {
    if (oom)
      nc_oapi_fail(r, 0, 500, 0, "out of memory");
    else
      delay_error(cr, r, NULL, 400, "invalid probeModify");
    return;
  }
  unsigned char *changed = calloc(p->n, 1);
  size_t n_changed = 0;
  if (!changed) {
    free_poll(p);
    nc_oapi_fail(r, 0, 500, 0, "out of memory");
    return;
  }
  for (size_t i = 0; i < p->n; i++) {
    const lkey *k = &p->keys[i];
    nc_config_key ck = {k->data_id, k->group, k->tenant};
    const char *why = NULL;
    if (!nc_crt_allowed(cr, r, &ck, 'r', &why)) {
      free(changed);
      delay_error(cr, r, p, 403, why);
      return;
    }
    const nc_cfg_item *it = NULL;
    char err[NC_CONFIG_ERR_CAP];
    int rc = nc_config_get(cr->cs, &ck, &it, err, sizeof(err));
    if (rc == NC_EINVAL) {
      free(changed);
      delay_error(cr, r, p, 400, "invalid probeModify");
      return;
    }
    const char *cur = rc == 0 ? it->md5 : "";
    if (strcmp(cur, key_md5(k))) {
      changed[i] = 1;
      n_changed++;
    }
  }
  const char *to = nc_http_header(r, "Long-Pulling-Timeout");
  const char *no_hang = nc_http_header(r, "Long-Pulling-Timeout-No-Hangup");
  /* Without the header (a very old client) or with changes: answer now. */
  if (n_changed || !to || !*to || (no_hang && !strcasecmp(no_hang, "true"))) {
    reply_keys(r, p, changed);
    free(changed);
    free_poll(p);
    return;
  }
  free(changed);
  long long ms = atoll(to) - HOLD_MARGIN_MS;
  if (ms < MIN_HOLD_MS)
    ms = MIN_HOLD_MS;
  if (ms > MAX_HOLD_MS)
    ms = MAX_HOLD_MS;
  p->cr = cr;
  p->r = r;
  p->deadline = uv_now(cr->timer.loop) + (uint64_t)ms;
  nc_http_hold_abort(r, on_abort, p);
  insert_poll(cr, p);
}

/* ---- lifetime ---- */

int nc_crt_listen_init(nc_croutes *cr, uv_loop_t *loop) {
  int rc = nc_config_add_listener(cr->cs, on_change, cr);
  if (rc)
    return rc;
  if (uv_timer_init(loop, &cr->timer) != 0) {
    nc_config_remove_listener(cr->cs, on_change, cr);
    return NC_EIO;
  }
  cr->timer.data = cr;
  cr->listening = 1;
  return 0;
}

static void on_closed(uv_handle_t *h) { free(h->data); }

void nc_crt_listen_close(nc_croutes *cr) {
  if (cr->listening)
    nc_config_remove_listener(cr->cs, on_change, cr);
  while (cr->head) {
    nc_lpoll *p = cr->head;
    unlink_poll(cr, p);
    free_poll(p);
  }
  uv_close((uv_handle_t *)&cr->timer, on_closed);
}

size_t nc_croutes_held(const nc_croutes *cr) { return cr ? cr->held : 0; }

void nc_crt_held_foreach(nc_croutes *cr, const char *gk, nc_crt_held_fn fn, void *ud) {
  for (nc_lpoll *p = cr->head; p; p = p->next) {
    if (!p->r || p->err_status)
      continue;
    for (size_t i = 0; i < p->n; i++) {
      const lkey *k = &p->keys[i];
      if (!gk || !strcmp(gk, k->gk))
        fn(ud, nc_http_peer(p->r), k->data_id, k->group, k->tenant, key_md5(k));
    }
  }
}

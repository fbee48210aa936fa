/* srv_http: see srv_http.h. */
#include "srv_http.h"

#include "cluster.h"
#include "auth_routes.h"
#include "cluster_routes.h"
#include "config_routes.h"
#include "core_routes.h"
#include "loader_routes.h"
#include "namespace_routes.h"
#include "console_routes.h"
#include "naming_routes.h"
#include "webui.h"
#include "nc_auth_cred.h"
#include "nc_err.h"
#include "nc_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One module's route table and the ud its handlers get. */
typedef struct route_set {
  const nc_http_route *tab;
  size_t n;
  void *ud;
} route_set;

enum { MAX_SETS = 16 }; /* route tables; add_set drops (and logs) past this */

struct nc_shttp {
  nc_http *http;
  nc_shttp_opts o;
  route_set sets[MAX_SETS];
  size_t n_sets;
  uv_loop_t *loop;
  uint64_t refuse_sec, refuse_lines, refuse_dropped; /* refusal log lines this second */
};

static void h_metrics(void *ud, nc_http_req *r) {
  nc_shttp *h = ud;
  nc_metrics_text t = {0};
  if (h->o.render)
    h->o.render(h->o.ud, &t);
  nc_shttp_render_metrics(h, &t);
  char *s = nc_metrics_text_take(&t);
  if (!s) {
    nc_http_reply_error(r, 500, "out of memory");
    return;
  }
  nc_http_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", s, strlen(s));
  free(s);
}

/* "<ok>" or "<ok>; <note>" plus end (the degraded-part note). */
static void reply_ok(nc_shttp *h, nc_http_req *r, const char *ok, const char *end) {
  char note[256] = "", body[320];
  if (h->o.note)
    h->o.note(h->o.ud, note, sizeof(note));
  int n = snprintf(body, sizeof(body), "%s%s%s%s", ok, note[0] ? "; " : "", note, end);
  nc_http_reply(r, 200, "text/plain", body, (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1);
}

static void h_health(void *ud, nc_http_req *r) {
  nc_shttp *h = ud;
  char why[256] = "not ready";
  if (h->o.ready && !h->o.ready(h->o.ud, why, sizeof(why))) {
    size_t n = strnlen(why, sizeof(why) - 2);
    why[n] = '\n';
    nc_http_reply(r, 503, "text/plain", why, n + 1);
    return;
  }
  reply_ok(h, r, "ok", "\n");
}

/* 200 "OK" when this node may serve (a note may follow), else 503 with
 * the reason: Nacos's readiness probe path. */
static void h_readiness(void *ud, nc_http_req *r) {
  nc_shttp *h = ud;
  char why[200], body[256];
  if (!h->o.cluster || nc_cluster_ready(h->o.cluster, why, sizeof(why))) {
    reply_ok(h, r, "OK", "");
    return;
  }
  int n = snprintf(body, sizeof(body), "not ready: %s", why);
  size_t len = (size_t)n < sizeof(body) ? (size_t)n : sizeof(body) - 1;
  nc_http_reply(r, 503, "text/plain", body, len);
}

static const nc_http_route own_routes[] = {
    {"/metrics", NC_HTTP_GET, h_metrics, NC_SHTTP_OPEN},
    {"/health", NC_HTTP_GET, h_health, NC_SHTTP_OPEN},
    {"/nacos/v1/console/health/readiness", NC_HTTP_GET, h_readiness, NC_SHTTP_OPEN},
};

/* At most AUTH_BURST refusal lines a second (a client looping on a bad
 * token cannot flood the journal); the rest are counted. */
#define AUTH_BURST 20

static void log_refusal(nc_shttp *h, nc_http_req *r, const char *why) {
  uint64_t sec = uv_now(h->loop) / 1000;
  if (sec != h->refuse_sec) {
    if (h->refuse_dropped)
      nc_warn("http: %llu more refusal line(s) suppressed",
              (unsigned long long)h->refuse_dropped);
    h->refuse_sec = sec;
    h->refuse_lines = h->refuse_dropped = 0;
  }
  if (h->refuse_lines++ >= AUTH_BURST) {
    h->refuse_dropped++;
    return;
  }
  nc_warn("http: %s %s from %s refused (403): %s", nc_http_method(r), NC_LOG_ESC(nc_http_path(r)),
          nc_http_peer(r), why);
}

static int is_member(nc_shttp *h, const char *addr) {
  nc_member_info m[256];
  if (!h->o.cluster)
    return 0;
  size_t n = nc_cluster_members(h->o.cluster, m, sizeof(m) / sizeof(m[0]));
  for (size_t i = 0; i < n && i < sizeof(m) / sizeof(m[0]); i++)
    if (!strcmp(m[i].address, addr))
      return 1;
  return 0;
}

/* A refusal held before it is answered (NC_SHTTP_DELAY_ERRORS). The timer
 * is freed in its close callback; r is NULL once answered or dropped. */
#define REFUSAL_DELAY_MS 1000

typedef struct held_refusal {
  uv_timer_t timer;
  nc_http_req *r;
  const char *why; /* static (nc_auth's messages or a literal) */
} held_refusal;

static void refusal_closed(uv_handle_t *t) { free(t->data); }

static void refusal_end(held_refusal *hr) {
  hr->r = NULL;
  uv_timer_stop(&hr->timer);
  uv_close((uv_handle_t *)&hr->timer, refusal_closed);
}

static void refusal_abort(void *ud, nc_http_req *r) {
  (void)r; /* nc_http answers it (503) */
  refusal_end(ud);
}

static void refusal_due(uv_timer_t *t) {
  held_refusal *hr = t->data;
  nc_http_req *r = hr->r;
  nc_http_hold_abort(r, NULL, NULL);
  nc_http_reply(r, 403, "text/plain", hr->why, strlen(hr->why));
  refusal_end(hr);
}

/* 403 why, now or (NC_SHTTP_DELAY_ERRORS) after REFUSAL_DELAY_MS. */
static void refuse(nc_shttp *h, const nc_http_route *rt, nc_http_req *r, const char *why) {
  held_refusal *hr = (rt->flags & NC_SHTTP_DELAY_ERRORS) ? calloc(1, sizeof(*hr)) : NULL;
  if (hr && uv_timer_init(h->loop, &hr->timer) == 0) {
    hr->timer.data = hr;
    hr->r = r;
    hr->why = why;
    nc_http_hold_abort(r, refusal_abort, hr);
    uv_timer_start(&hr->timer, refusal_due, REFUSAL_DELAY_MS, 0);
    return;
  }
  free(hr); /* not delayed, or no memory for it: answer now */
  nc_http_reply(r, 403, "text/plain", why, strlen(why));
}

/* A request waiting for its username + password to be verified. */
typedef struct cred_wait {
  nc_shttp *h;
  nc_http_req *r; /* NULL once the server dropped the request */
  const nc_http_route *rt;
  void *ud;
} cred_wait;

/* The route's policy once the caller is known (why: the identity's
 * refusal, NULL = user identified or auth off): admin, redirect target.
 * 1 = serve it; 0 = answered (403). */
static int policy(nc_shttp *h, const nc_http_route *rt, nc_http_req *r, const char *why,
                  const char *user) {
  if (!why && user && (rt->flags & NC_SHTTP_ADMIN) && !nc_auth_is_admin(h->o.auth, user))
    why = nc_auth_result_msg(NC_AUTH_FORBIDDEN);
  const char *redir = (rt->flags & NC_SHTTP_REDIRECT) ? nc_http_param(r, "redirectAddress") : NULL;
  /* With auth on (an --auth off node is open to anyone anyway) a valid
   * address must be a member; a malformed one gets the handler's 400. */
  char ip[256];
  int port;
  if (!why && redir && *redir && nc_auth_enabled(h->o.auth) &&
      nc_srv_parse_redirect(redir, ip, sizeof(ip), &port) == 0 && !is_member(h, redir))
    why = "redirectAddress is not a member of this cluster";
  if (!why)
    return 1;
  log_refusal(h, r, why);
  refuse(h, rt, r, why);
  return 0;
}

/* Calls the handler; as user (username + password requests) when set, so
 * the handler's own permission checks see that user. */
static void serve(nc_shttp *h, const nc_http_route *rt, void *ud, nc_http_req *r,
                  const char *as_user) {
  if (as_user)
    nc_auth_act_as(h->o.auth, as_user);
  rt->fn(ud, r);
  if (as_user)
    nc_auth_act_as(h->o.auth, NULL);
}

static void cred_abort(void *ud, nc_http_req *r) {
  cred_wait *w = ud;
  (void)r;
  w->r = NULL;
}

static void cred_done(void *ud, int ok, const char *user) {
  cred_wait *w = ud;
  nc_http_req *r = w->r;
  nc_shttp *h = w->h;
  const nc_http_route *rt = w->rt;
  void *rud = w->ud;
  free(w);
  if (!r) /* dropped (server stopping): h may be gone */
    return;
  nc_http_hold_abort(r, NULL, NULL);
  if (policy(h, rt, r, ok ? NULL : NC_AUTH_CRED_BAD_MSG, ok ? user : NULL))
    serve(h, rt, rud, r, user);
}

/* Who the caller is: a token, else (as Nacos) username + password
 * parameters. 1 = serve it (as *as_user when set); 0 = answered (403);
 * 2 = held while the password is verified (cred_done goes on). */
static int allowed(nc_shttp *h, const nc_http_route *rt, nc_http_req *r, void *ud, char *user,
                   const char **as_user) {
  const char *why = NULL;
  int known = 0;
  *as_user = NULL;
  if (nc_auth_enabled(h->o.auth) && !(rt->flags & NC_SHTTP_OPEN)) {
    const char *tok = nc_auth_http_token(r);
    const char *cu = nc_http_param(r, "username"), *cp = nc_http_param(r, "password");
    if (!tok && cu && cp) {
      cred_wait *w = calloc(1, sizeof(*w));
      int rc = w ? nc_auth_cred_verify(h->o.auth, cu, cp, user, cred_done, w) : 0;
      if (rc == 2) {
        *w = (cred_wait){h, r, rt, ud};
        nc_http_hold_abort(r, cred_abort, w);
        return 2;
      }
      free(w);
      if (rc == 1)
        *as_user = user;
      else
        why = NC_AUTH_CRED_BAD_MSG;
    } else {
      nc_auth_result res = nc_auth_identify(h->o.auth, tok, user);
      if (res != NC_AUTH_OK)
        why = nc_auth_result_msg(res);
    }
    known = !why;
  }
  return policy(h, rt, r, why, known ? user : NULL);
}

static void on_request(void *ud, nc_http_req *r) {
  nc_shttp *h = ud;
  int status = 404;
  for (size_t i = 0; i < h->n_sets; i++) {
    int st = 404;
    const nc_http_route *rt = nc_http_route_find(h->sets[i].tab, h->sets[i].n, r, &st);
    if (rt) {
      char user[NC_AUTH_USER_MAX];
      const char *as_user = NULL;
      if (allowed(h, rt, r, h->sets[i].ud, user, &as_user) == 1)
        serve(h, rt, h->sets[i].ud, r, as_user);
      return;
    }
    if (st == 405)
      status = 405;
  }
  nc_http_reply_error(r, status, status == 405 ? "method not allowed" : "not found");
}

static void add_set(nc_shttp *h, const nc_http_route *tab, size_t n, void *ud) {
  if (h->n_sets < MAX_SETS)
    h->sets[h->n_sets++] = (route_set){tab, n, ud};
  else /* a build with more modules than MAX_SETS: say so rather than 404 quietly */
    nc_error("http: route table of %s dropped: raise MAX_SETS in srv_http.c",
             n ? tab[0].path : "?");
}

/* A whole PEM file, NUL-terminated (NULL with a log line). */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  char *buf = NULL;
  long n = -1;
  if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < 1024 * 1024 &&
      fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
      fread(buf, 1, (size_t)n, f) == (size_t)n) {
    buf[n] = '\0';
  } else {
    nc_error("http: cannot read %s: %s", path, f ? "read failed or over 1 MiB" : strerror(errno));
    free(buf);
    buf = NULL;
  }
  if (f)
    fclose(f);
  return buf;
}

int nc_shttp_start(uv_loop_t *loop, nc_srv *srv, const nc_shttp_opts *opts, nc_shttp **out) {
  nc_shttp *h = calloc(1, sizeof(*h));
  (void)srv; /* the loader's routes take opts->loader */
  if (!h)
    return NC_ENOMEM;
  h->o = *opts;
  h->loop = loop;
  add_set(h, own_routes, sizeof(own_routes) / sizeof(own_routes[0]), h);
  add_set(h, nc_core_routes, nc_core_n_routes, h);
  if (nc_auth_enabled(opts->auth)) {
    add_set(h, nc_auth_routes, nc_auth_n_routes, opts->auth);
    add_set(h, nc_auth_v3_routes, nc_auth_v3_n_routes, opts->auth);
  }
  if (opts->loader)
    add_set(h, nc_loader_routes, nc_loader_n_routes, opts->loader);
  add_set(h, nc_webui_routes, nc_webui_n_routes, opts->auth);
  if (opts->naming_routes)
    add_set(h, nc_naming_routes, nc_naming_n_routes, opts->naming_routes);
  if (opts->config_routes)
    add_set(h, nc_config_routes, nc_config_n_routes, opts->config_routes);
  if (opts->namespace_routes)
    add_set(h, nc_namespace_routes, nc_namespace_n_routes, opts->namespace_routes);
  if (opts->console_routes)
    add_set(h, nc_console_routes, nc_console_n_routes, opts->console_routes);
  if (opts->cluster)
    add_set(h, nc_cluster_routes, nc_cluster_n_routes, opts->cluster);
  nc_http_opts ho = {.bind = opts->bind,
                     .port = opts->port,
                     .header_timeout_s = opts->header_timeout_s,
                     .body_timeout_s = opts->body_timeout_s,
                     .max_conns = opts->max_conns,
                     .max_conns_per_ip = opts->max_conns_per_ip,
                     .max_body = opts->max_body};
  char *cert = NULL, *key = NULL, *ca = NULL;
  int rc = 0;
  if (opts->tls_cert_file || opts->tls_key_file) {
    if (!opts->tls_cert_file || !opts->tls_key_file) {
      nc_error("http: --tls-cert and --tls-key go together");
      rc = NC_EINVAL;
    } else if (!(cert = slurp(opts->tls_cert_file)) || !(key = slurp(opts->tls_key_file)) ||
               (opts->tls_client_ca_file && !(ca = slurp(opts->tls_client_ca_file)))) {
      rc = NC_EIO;
    }
    if (rc) {
      free(cert);
      free(key);
      free(ca);
      free(h);
      return rc;
    }
    ho.tls_cert_pem = cert;
    ho.tls_key_pem = key;
    ho.tls_client_ca_pem = ca;
  }
  rc = nc_http_start(loop, &ho, on_request, h, &h->http);
  free(cert);
  free(ca);
  if (key)
    explicit_bzero(key, strlen(key));
  free(key);
  if (!rc && cert)
    nc_info("http: HTTPS on port %d (%s)%s%s", nc_http_port(h->http), opts->tls_cert_file,
            opts->tls_client_ca_file ? ", client certificates required, CA " : "",
            opts->tls_client_ca_file ? opts->tls_client_ca_file : "");
  if (rc) {
    nc_error("http: cannot listen on %s:%d: %s", opts->bind ? opts->bind : "127.0.0.1",
             opts->port, nc_strerror(rc));
    free(h);
    return rc;
  }
  *out = h;
  return 0;
}

int nc_shttp_port(const nc_shttp *h) { return nc_http_port(h->http); }
const nc_shttp_opts *nc_shttp_options(const nc_shttp *h) { return &h->o; }

void nc_shttp_render_metrics(const nc_shttp *h, nc_metrics_text *t) {
  nc_http_limit_stats ls;
  nc_http_get_limit_stats(h->http, &ls);
  nc_metrics_add(t, "nacosd_", "http_connections_refused_total",
                 "HTTP connections refused: --http-max-connections open.", ls.refused_total);
  nc_metrics_add(t, "nacosd_", "http_connections_refused_ip_total",
                 "HTTP connections refused: --http-max-connections-per-ip open from the address.",
                 ls.refused_per_ip);
  nc_metrics_add(t, "nacosd_", "http_header_timeouts_total",
                 "HTTP connections closed: request head not complete within "
                 "--http-header-timeout-s.",
                 ls.header_timeouts);
  nc_metrics_add(t, "nacosd_", "http_body_timeouts_total",
                 "HTTP connections closed: request body not complete within --http-body-timeout-s.",
                 ls.body_timeouts);
  nc_metrics_add(t, "nacosd_", "http_body_too_large_total",
                 "HTTP requests refused with 413: body over --http-max-body-bytes.",
                 ls.body_too_large);
  nc_metrics_add(t, "nacosd_", "http_client_cert_refused_total",
                 "HTTPS requests refused with 403: no client certificate, or one not signed by "
                 "--tls-client-ca.",
                 ls.client_cert_refused);
  nc_metrics_add(t, "nacosd_", "http_requests_total", "HTTP requests received on the main port.",
                 nc_http_requests(h->http));
  nc_metrics_add(t, "nacosd_", "http_held", "HTTP requests held open (long-poll).",
                 nc_http_held(h->http));
  nc_auth_cred_stats cs;
  nc_auth_cred_get_stats(nc_auth_cred_cache(h->o.auth), &cs);
  nc_metrics_add(t, "nacosd_", "http_credential_cache_hits_total",
                 "HTTP requests with username + password answered from the verified-pair cache.",
                 cs.hits);
  nc_metrics_add(t, "nacosd_", "http_credential_checks_ok_total",
                 "HTTP username + password pairs verified (Argon2id) and accepted.", cs.verified);
  nc_metrics_add(t, "nacosd_", "http_credential_checks_failed_total",
                 "HTTP username + password pairs verified and refused (403).", cs.failed);
  nc_metrics_add(t, "nacosd_", "http_credential_throttled_total",
                 "HTTP username + password pairs refused (403) without a check: the failure "
                 "budget (10, then 5/s) was spent or 4 checks were in flight.",
                 cs.throttled);
}

void nc_shttp_stop(nc_shttp *h) {
  if (!h)
    return;
  nc_http_stop(h->http);
  free(h);
}

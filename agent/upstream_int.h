/* Private to upstream.c (the upstream thread) and upstream_api.c (the
 * loop-thread API and the event queue between them). */
#ifndef NC_UPSTREAM_INT_H
#define NC_UPSTREAM_INT_H

#include "upstream.h"
#include "nc_evq.h"
#include "pushbox.h"
#include "upstream_pick.h"
#include "nc_wire_client.h"

#include <pthread.h>

typedef struct cmd {
  struct cmd *next;
  char *type;
  cJSON *body;
  uint64_t gen;
  char *key; /* ordering key or NULL */
  nc_up_done_cb cb;
  void *ud;
} cmd;

enum { EV_CONNECTED, EV_DISCONNECTED, EV_PUSH, EV_DONE };

typedef struct ev {
  nc_evq_node node; /* first member */
  int kind;
  uint64_t gen;
  char *a, *b;      /* server + conn id / reason / push type + pushbox key */
  cJSON *body;
  cmd *c;
  int status;
  nc_msg *resp;
} ev;

/* One connection attempt; the ud of nc_wc's callbacks. Freed only after
 * nc_wc_close returned (no callback runs after that). */
typedef struct attempt {
  nc_up *up;
  uint64_t gen;
  int broken;
  const char *reason;
} attempt;

struct nc_up {
  nc_evq *evq;
  nc_pushbox *box; /* host-list pushes waiting for the loop, newest per service */
  nc_gcli_env *env;
  nc_up_cbs cbs;
  nc_server_addr *servers;
  size_t n_servers;
  nc_upick *pick; /* upstream thread only */
  int health_ms, timeout_ms;
  char *app_name, *client_ip;
  char *username, *password; /* NULL: no login */
  uint64_t token_renew_ms;   /* upstream thread: when the token wants renewing */
  char token[1024];          /* upstream thread: the current token (member list reads) */
  nc_gcli_tls tls;           /* its strings owned here; used only when use_tls */
  int use_tls;
  struct nc_tls_cli *http_tls; /* the HTTP port's TLS context; NULL = plain */
  char (*srv_error)[200];    /* under lock: per server, why its latest connect (or login)
                              * failed since the last good one; "" = it did not */

  pthread_t thread;
  int started;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  /* Under lock: */
  cmd *head, *tail;
  size_t queued;
  int stop;
  attempt *cur;       /* the live connection's attempt, or NULL */
  int reset_idx;      /* -2: none; -1: any other server; >= 0: that server */
  int inflight;       /* requests awaiting their answer */
  const char *inflight_keys[128]; /* ordering keys of those (borrowed from their cmd) */
  int n_inflight_keys;
  uint64_t last_active_ms;
  uint64_t gen;
  unsigned seed;
  /* Make before break (ConnectResetRequest): the connection that was told
   * to move stays open until the new one has its redo answered. */
  nc_wc *old_wc;        /* upstream thread: the old connection, or NULL */
  attempt *old_a;       /* its attempt (freed after nc_wc_close) */
  uint64_t old_until;   /* closed by then whatever happens (now_ms) */
  uint64_t redo_gen;    /* under lock: the loop queued the redo of this generation */
  uint64_t old_idle;    /* upstream thread: since when that redo is answered (now_ms) */
};

/* Event plumbing (upstream_api.c); post* may be called on any thread. */
void nc_up_ev_free(ev *e);
void nc_up_post(nc_up *up, ev *e);
void nc_up_post_simple(nc_up *up, int kind, uint64_t gen, const char *a, const char *b);
void nc_up_post_done(nc_up *up, cmd *c, int status, nc_msg *resp);

/* Under lock: records why server idx failed (why NULL: clears every
 * server's, after a good connect). */
void nc_up_note_error(nc_up *up, int idx, const char *why);

/* The upstream thread (upstream.c). */
void *nc_up_thread_main(void *arg);

#endif

/* srv_fuzzy_int: the fuzzy-watch engine's state, shared by srv_fuzzy.c
 * (watches, matches, changes) and srv_fuzzy_push.c (sync and notify
 * pushes, their acks and retries, the request handler, metrics). Private
 * to those files. Loop thread only. */
#ifndef SRV_FUZZY_INT_H
#define SRV_FUZZY_INT_H

#include "nc_strmap.h"
#include "srv_fuzzy.h"

/* One watched pattern, shared by every connection watching it (as Nacos's
 * per-pattern context): its matched keys are computed once. */
typedef struct fz_pat {
  char *text;          /* the pattern as sent */
  nc_fz_parts parts;   /* slices of text */
  nc_strmap *matched;  /* key -> (void *)1, at most max_matches */
  nc_strmap *watchers; /* conn id -> (void *)1 */
} fz_pat;

/* The batches of one initial sync: FINISH goes once all are acked. */
typedef struct fz_init {
  int refs;   /* pushes holding it */
  int total;  /* batches */
  int acked;
} fz_init;

/* A push: SENT (in flight, on f->flying) or WAITING for its retry time (on
 * f->waiting). */
typedef struct fz_push {
  struct fz_push *prev, *next;
  nc_fz *f;      /* NULL once the engine is gone (a late ack frees it) */
  char *conn_id;
  char *pattern; /* the sync's pattern; NULL for a change notify */
  const char *type;
  char *json;    /* body without requestId, sent again on retry */
  size_t len;
  int attempts;  /* sends so far */
  uint64_t due;  /* WAITING: uv_now of the retry */
  fz_init *init; /* an initial sync's batch, else NULL */
} fz_push;

struct nc_fz {
  uv_loop_t *loop;
  nc_srv *srv;
  uv_timer_t *timer; /* retries; freed in its close callback */
  nc_fz_kind kind;
  nc_fz_opts o;
  const char *resp_type; /* nc_fz_serve's */
  nc_strmap *pats;  /* pattern text -> fz_pat */
  nc_strmap *conns; /* conn id -> nc_strmap (pattern text -> (void *)1) */
  fz_push *flying, *waiting;
  size_t n_watches, n_keys;
  /* conn id -> its pushes (SENT or WAITING), (void *)(uintptr_t)n: change
   * notifications beyond NC_FZ_MAX_PENDING are not queued */
  nc_strmap *pending;
  nc_fz_stats st;
};

/* srv_fuzzy_push.c */
/* Pushes a sync request for p to conn (contexts consumed; NULL = []). */
int nc_fz__push_sync(nc_fz *f, const char *conn, const fz_pat *p, const char *sync_type,
                     cJSON *contexts, int total, int current, fz_init *init);
/* Pushes a change notification of key to conn. */
int nc_fz__push_notify(nc_fz *f, const char *conn, const char *key, const char *change);
/* Drops conn's WAITING pushes (the connection went). */
void nc_fz__forget_conn(nc_fz *f, const char *conn);
/* Frees every push (engine teardown); SENT ones are detached. */
void nc_fz__pushes_free(nc_fz *f);

/* srv_fuzzy.c */
int nc_fz__conn_watches(const nc_fz *f, const char *conn, const char *pattern);

#endif

/* The blocking unary call and the status table, shared by both nc_gcli
 * implementations (nc_grpc_client.c, nc_h2_client.c). */
#include "nc_err.h"
#include "nc_gcli_priv.h"
#include "nc_grpc_client.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int nc_gcli_status_from_grpc(int code) {
  switch (code) {
  case 0: /* OK */
    return 0;
  case 4: /* DEADLINE_EXCEEDED */
    return NC_ETIMEOUT;
  case 14: /* UNAVAILABLE */
    return NC_EUNAVAIL;
  case 1: /* CANCELLED */
    return NC_ECLOSED;
  case 8: /* RESOURCE_EXHAUSTED: a message over a size cap */
    return NC_ETOOBIG;
  default:
    return NC_EGRPC;
  }
}

typedef struct gcli_sync {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int done, status;
  uint8_t *data;
  size_t len;
} gcli_sync;


static void sync_cb(void *ud, int status, const uint8_t *data, size_t len) {
  gcli_sync *s = ud;
  uint8_t *copy = NULL;
  if (status == 0 && !(copy = malloc(len ? len : 1)))
    status = NC_ENOMEM;
  else if (status == 0 && len)
    memcpy(copy, data, len);
  pthread_mutex_lock(&s->mu);
  s->status = status;
  s->data = copy;
  s->len = len;
  s->done = 1;
  pthread_cond_signal(&s->cond);
  pthread_mutex_unlock(&s->mu);
}

int nc_gcli_unary(nc_gcli *c, const uint8_t *data, size_t len, int timeout_ms, uint8_t **resp,
                  size_t *resp_len) {
  gcli_sync s = {.done = 0};
  *resp = NULL;
  *resp_len = 0;
  pthread_mutex_init(&s.mu, NULL);
  pthread_cond_init(&s.cond, NULL);
  int rc = nc_gcli_unary_async(c, data, len, timeout_ms, sync_cb, &s);
  if (rc == 0) {
    pthread_mutex_lock(&s.mu); /* the call's deadline bounds this wait */
    while (!s.done)
      pthread_cond_wait(&s.cond, &s.mu);
    pthread_mutex_unlock(&s.mu);
    rc = s.status;
    *resp = s.data;
    *resp_len = s.len;
  }
  pthread_mutex_destroy(&s.mu);
  pthread_cond_destroy(&s.cond);
  return rc;
}


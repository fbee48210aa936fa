/* srv_outbox: see srv_outbox.h. */
#include "srv_outbox.h"

#include "nc_err.h"
#include "nc_evq.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct omsg {
  nc_evq_node node; /* reused to report a failure to the loop */
  struct omsg *next;
  nc_gsrv *g;
  uint64_t stream_id;
  int rc;
  char reqid[24];
  uint8_t *data;
  size_t len;
  char conn_id[]; /* NUL-terminated */
} omsg;

struct nc_outbox {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  omsg *head, *tail;
  int stop;
  nc_evq *failq;
  nc_outbox_fail_fn fail;
  void *ud;
};

static void omsg_free(omsg *m) {
  if (m) {
    free(m->data);
    free(m);
  }
}

static void on_failed(void *ud, nc_evq_node *node) {
  nc_outbox *ob = ud;
  omsg *m = (omsg *)node;
  ob->fail(ob->ud, m->conn_id, m->reqid, m->rc);
  omsg_free(m);
}

static void drop_failed(nc_evq_node *node) { omsg_free((omsg *)node); }

static void *sender(void *arg) {
  nc_outbox *ob = arg;
  pthread_mutex_lock(&ob->mu);
  for (;;) {
    while (!ob->head && !ob->stop)
      pthread_cond_wait(&ob->cv, &ob->mu);
    if (ob->stop)
      break;
    omsg *batch = ob->head;
    ob->head = ob->tail = NULL;
    pthread_mutex_unlock(&ob->mu);
    while (batch) {
      omsg *m = batch;
      batch = m->next;
      m->rc = nc_gsrv_stream_send(m->g, m->stream_id, m->data, m->len);
      free(m->data);
      m->data = NULL;
      if (m->rc == 0 || nc_evq_push(ob->failq, &m->node) != 0)
        omsg_free(m);
    }
    pthread_mutex_lock(&ob->mu);
  }
  pthread_mutex_unlock(&ob->mu);
  return NULL;
}

int nc_outbox_new(uv_loop_t *loop, nc_outbox_fail_fn fail, void *ud, nc_outbox **out) {
  nc_outbox *ob = calloc(1, sizeof(*ob));
  if (!ob)
    return NC_ENOMEM;
  ob->fail = fail;
  ob->ud = ud;
  pthread_mutex_init(&ob->mu, NULL);
  pthread_cond_init(&ob->cv, NULL);
  int rc = nc_evq_new(loop, on_failed, ob, &ob->failq);
  if (!rc && pthread_create(&ob->th, NULL, sender, ob) != 0) {
    nc_evq_close(ob->failq, NULL);
    rc = NC_ENOMEM;
  }
  if (rc) {
    pthread_mutex_destroy(&ob->mu);
    pthread_cond_destroy(&ob->cv);
    free(ob);
    return rc;
  }
  *out = ob;
  return 0;
}

int nc_outbox_send(nc_outbox *ob, nc_gsrv *g, uint64_t stream_id, const char *conn_id,
                   const char *reqid, uint8_t *data, size_t len) {
  size_t cl = strlen(conn_id);
  omsg *m = malloc(sizeof(*m) + cl + 1);
  if (!m) {
    free(data);
    return NC_ENOMEM;
  }
  m->next = NULL;
  m->g = g;
  m->stream_id = stream_id;
  m->rc = 0;
  snprintf(m->reqid, sizeof(m->reqid), "%s", reqid);
  m->data = data;
  m->len = len;
  memcpy(m->conn_id, conn_id, cl + 1);
  pthread_mutex_lock(&ob->mu);
  if (ob->tail)
    ob->tail->next = m;
  else
    ob->head = m;
  ob->tail = m;
  pthread_cond_signal(&ob->cv);
  pthread_mutex_unlock(&ob->mu);
  return 0;
}

void nc_outbox_free(nc_outbox *ob) {
  if (!ob)
    return;
  pthread_mutex_lock(&ob->mu);
  ob->stop = 1;
  pthread_cond_signal(&ob->cv);
  pthread_mutex_unlock(&ob->mu);
  pthread_join(ob->th, NULL);
  for (omsg *m = ob->head, *n; m; m = n) {
    n = m->next;
    omsg_free(m);
  }
  nc_evq_close(ob->failq, drop_failed);
  pthread_mutex_destroy(&ob->mu);
  pthread_cond_destroy(&ob->cv);
  free(ob);
}

/* Private to nc_grpc_tls.c (connections, handshakes, the relay thread)
 * and nc_grpc_tls_pump.c (moving the bytes of a relayed connection): the
 * relay's types. All of it belongs to the relay thread of one port except
 * where gs_tls says "under mu". */
#ifndef NC_GTLS_INT_H
#define NC_GTLS_INT_H

#include "nc_gsrv_int.h"
#include "nc_strmap.h"
#include "nc_tls_srv.h"

#include <stdint.h>

#define GT_BUF 16384 /* one TLS record */
#define GT_DEFAULT_HS_MS 10000
#define GT_LOG_EVERY_MS 10000
#define GT_EVENTS 64

enum { GT_SNIFF, GT_HANDSHAKE, GT_RELAY };

typedef struct gt_conn gt_conn;
typedef struct gt_side { /* one descriptor of a connection, epoll's data.ptr */
  gt_conn *c;
  int fd;
  uint32_t armed; /* events registered (registered with none at first) */
  int hup;        /* epoll said EPOLLHUP/EPOLLERR */
  int removed;    /* out of epoll: nothing more to read or write there */
} gt_side;

struct gt_conn {
  gt_side net; /* the client's TCP socket */
  gt_side loc; /* our end of the socketpair; fd -1 before the relay starts */
  SSL *ssl;
  int state, dead;
  int rd_want, wr_want; /* EPOLLIN / EPOLLOUT the last SSL_read / SSL_write waits for */
  int net_eof, loc_eof, loc_shut;
  uint64_t deadline; /* end of sniff + handshake */
  uint8_t *to_loc;   /* decrypted bytes the core has not taken yet */
  size_t to_loc_len, to_loc_off;
  uint8_t *to_net; /* bytes an SSL_write must be retried with */
  size_t to_net_len;
  char peer[56], key[64];
  gt_conn *prev, *next;
};

typedef struct gt_list {
  gt_conn *head, *tail;
} gt_list;

typedef struct gt_in { /* a socket the accept thread handed over */
  int fd;
  char peer[56], key[64];
  struct gt_in *next;
} gt_in;

struct gs_tls {
  nc_gsrv *srv;
  const nc_tls_srv *ctx;
  int plaintext, hs_ms;
  pthread_t thr;
  int started, ep, wake;
  grpc_server_credentials *creds;
  pthread_mutex_t mu; /* in, stop, peers */
  gt_in *in_head, *in_tail;
  int stop;
  nc_strmap *peers; /* key "ip:port" of relayed connections -> (void *)1 */
  /* the relay thread's own */
  gt_list hs, relay, dead;
  uint64_t last_log;
  unsigned long fails_since_log;
  uint8_t scratch[GT_BUF];
};

/* nc_grpc_tls.c */
/* Registers what s waits for (EPOLLIN / EPOLLOUT) if it changed. */
void nc_gtls__arm(gs_tls *t, gt_side *s, uint32_t ev);
/* Ends c (both descriptors closed); freed after the current event batch. */
void nc_gtls__close(gs_tls *t, gt_conn *c);

/* nc_grpc_tls_pump.c */
/* Moves what can move both ways between c's TLS socket and the core's
 * end, then arms epoll for what each side waits for; may end c. */
void nc_gtls__pump(gs_tls *t, gt_conn *c);

#endif

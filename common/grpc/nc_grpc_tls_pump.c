/* nc_gsrv TLS relay, the data path (see nc_grpc_tls.c for the design):
 * a relayed connection's bytes, client -> core and core -> client, with at
 * most one TLS record waiting here per direction. A side that cannot take
 * more stops the other side being read (back-pressure through the kernel's
 * socket buffers). Runs on the port's relay thread only. */
#include "nc_gtls_int.h"
#include "nc_err.h"

#include <errno.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

/* Keeps bytes a write could not take (at most one record). */
static int keep(uint8_t **buf, size_t *len, const uint8_t *src, size_t n) {
  uint8_t *p = malloc(n);
  if (!p)
    return NC_ENOMEM;
  memcpy(p, src, n);
  free(*buf);
  *buf = p;
  *len = n;
  return 0;
}

/* Writes to the core's end; returns bytes taken, 0 when it is full, < 0
 * when it is gone. */
static ssize_t loc_write(gt_conn *c, const uint8_t *p, size_t n) {
  ssize_t w = send(c->loc.fd, p, n, MSG_NOSIGNAL);
  if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
    return 0;
  return w;
}

/* Moves what can move both ways, then arms epoll for what each side waits
 * for. */
void nc_gtls__pump(gs_tls *t, gt_conn *c) {
  for (int progress = 1; progress && !c->dead;) {
    progress = 0;
    /* client -> core */
    if (c->to_loc_len) {
      ssize_t w = loc_write(c, c->to_loc + c->to_loc_off, c->to_loc_len);
      if (w < 0)
        goto gone;
      if (w > 0) {
        c->to_loc_off += (size_t)w;
        c->to_loc_len -= (size_t)w;
        progress = 1;
        if (!c->to_loc_len) {
          free(c->to_loc);
          c->to_loc = NULL;
          c->to_loc_off = 0;
        }
      }
    } else if (!c->net_eof) {
      ERR_clear_error();
      int r = SSL_read(c->ssl, t->scratch, GT_BUF);
      if (r > 0) {
        ssize_t w = loc_write(c, t->scratch, (size_t)r);
        if (w < 0)
          goto gone;
        if (w < r && keep(&c->to_loc, &c->to_loc_len, t->scratch + w, (size_t)(r - w)) != 0)
          goto gone;
        c->rd_want = 0;
        progress = 1;
      } else {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
          c->rd_want = EPOLLIN;
        } else if (e == SSL_ERROR_WANT_WRITE) {
          c->rd_want = EPOLLOUT;
        } else if (e == SSL_ERROR_ZERO_RETURN || e == SSL_ERROR_SYSCALL) {
          c->net_eof = 1; /* close_notify, or FIN / RST without one */
          c->rd_want = 0;
          progress = 1;
          ERR_clear_error();
        } else {
          goto gone; /* a bad record: the connection cannot go on */
        }
      }
    }
    if (c->net_eof && !c->to_loc_len && !c->loc_shut) {
      shutdown(c->loc.fd, SHUT_WR); /* the core sees the client's end */
      c->loc_shut = 1;
    }
    /* core -> client */
    if (c->to_net_len) {
      ERR_clear_error();
      int r = SSL_write(c->ssl, c->to_net, (int)c->to_net_len);
      if (r > 0) {
        c->to_net_len -= (size_t)r;
        memmove(c->to_net, c->to_net + r, c->to_net_len);
        if (!c->to_net_len) {
          free(c->to_net);
          c->to_net = NULL;
        }
        c->wr_want = 0;
        progress = 1;
      } else {
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_WRITE)
          c->wr_want = EPOLLOUT;
        else if (e == SSL_ERROR_WANT_READ)
          c->wr_want = EPOLLIN;
        else
          goto gone;
      }
    } else if (!c->loc_eof) {
      ssize_t r = recv(c->loc.fd, t->scratch, GT_BUF, 0);
      if (r > 0) {
        ERR_clear_error();
        int w = SSL_write(c->ssl, t->scratch, (int)r);
        if (w <= 0) {
          int e = SSL_get_error(c->ssl, w);
          if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ)
            goto gone;
          c->wr_want = e == SSL_ERROR_WANT_WRITE ? EPOLLOUT : EPOLLIN;
          w = 0;
        }
        if (w < r && keep(&c->to_net, &c->to_net_len, t->scratch + w, (size_t)(r - w)) != 0)
          goto gone;
        progress = 1;
      } else if (r == 0) {
        c->loc_eof = 1;
        progress = 1;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        c->loc_eof = 1;
        progress = 1;
      }
    }
    if (c->loc_eof && !c->to_net_len) {
      ERR_clear_error();
      SSL_shutdown(c->ssl); /* best effort close_notify; then FIN */
      ERR_clear_error();
      goto gone;
    }
  }
  if (c->dead)
    return;
  uint32_t net = 0, loc = 0;
  if (!c->to_loc_len && !c->net_eof)
    net |= (uint32_t)c->rd_want;
  if (c->to_net_len)
    net |= (uint32_t)c->wr_want;
  if (!c->to_net_len && !c->loc_eof)
    loc |= EPOLLIN;
  if (c->to_loc_len)
    loc |= EPOLLOUT;
  /* A side that hung up and that we wait on for nothing would report
   * EPOLLHUP forever: nothing more can move, end it. */
  if ((c->net.hup && !net) || (c->loc.hup && !loc && !c->loc_eof))
    goto gone;
  if (c->loc_eof && !c->loc.removed) { /* it would report EPOLLHUP while we flush */
    epoll_ctl(t->ep, EPOLL_CTL_DEL, c->loc.fd, NULL);
    c->loc.removed = 1;
  }
  nc_gtls__arm(t, &c->net, net);
  nc_gtls__arm(t, &c->loc, loc);
  return;
gone:
  ERR_clear_error();
  nc_gtls__close(t, c);
}

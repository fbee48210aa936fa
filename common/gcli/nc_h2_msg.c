/* nc_h2_msg: gRPC length-prefixed messages for the nghttp2 client:
 * outbound blocks and their queue, inbound reassembly across DATA frames. */
#include "nc_err.h"
#include "nc_h2_priv.h"

#include <stdlib.h>
#include <string.h>

h2_buf *h2_buf_new(const uint8_t *data, size_t len) {
  h2_buf *b = malloc(sizeof(*b) + 5 + len);
  if (!b)
    return NULL;
  b->next = NULL;
  b->len = 5 + len;
  b->off = 0;
  b->data[0] = 0; /* not compressed */
  b->data[1] = (uint8_t)(len >> 24);
  b->data[2] = (uint8_t)(len >> 16);
  b->data[3] = (uint8_t)(len >> 8);
  b->data[4] = (uint8_t)len;
  if (len)
    memcpy(b->data + 5, data, len);
  return b;
}

void h2_bufq_push(h2_bufq *q, h2_buf *b) {
  if (q->tail)
    q->tail->next = b;
  else
    q->head = b;
  q->tail = b;
  q->n++;
}

h2_buf *h2_bufq_pop(h2_bufq *q) {
  h2_buf *b = q->head;
  if (b) {
    q->head = b->next;
    if (!q->head)
      q->tail = NULL;
    q->n--;
    b->next = NULL;
  }
  return b;
}

void h2_bufq_clear(h2_bufq *q) {
  h2_buf *b;
  while ((b = h2_bufq_pop(q)))
    free(b);
}

int h2_rx_feed(nc_gcli *c, h2_strm *s, const uint8_t *p, size_t n, h2_emit_fn emit) {
  h2_rx *rx = &s->rx;
  while (n > 0 || (rx->in_body && rx->have == rx->need)) {
    if (!rx->in_body) {
      size_t k = 5 - rx->hdr_have;
      if (k > n)
        k = n;
      memcpy(rx->hdr + rx->hdr_have, p, k);
      rx->hdr_have += k;
      p += k;
      n -= k;
      if (rx->hdr_have < 5)
        break;
      if (rx->hdr[0] != 0) /* no compression was offered */
        return NC_EGRPC;
      rx->need = (size_t)rx->hdr[1] << 24 | (size_t)rx->hdr[2] << 16 | (size_t)rx->hdr[3] << 8 |
                 rx->hdr[4];
      if (rx->need > (size_t)c->max_msg)
        return NC_ETOOBIG;
      if (!(rx->buf = malloc(rx->need ? rx->need : 1)))
        return NC_ENOMEM;
      rx->have = 0;
      rx->in_body = 1;
    }
    size_t k = rx->need - rx->have;
    if (k > n)
      k = n;
    if (k) {
      memcpy(rx->buf + rx->have, p, k);
      rx->have += k;
      p += k;
      n -= k;
    }
    if (rx->have < rx->need)
      break;
    uint8_t *msg = rx->buf;
    size_t len = rx->need;
    rx->buf = NULL;
    rx->in_body = 0;
    rx->hdr_have = 0;
    int rc = emit(c, s, msg, len);
    if (rc != 0)
      return rc;
  }
  return 0;
}

void h2_rx_free(h2_rx *rx) {
  free(rx->buf);
  memset(rx, 0, sizeof(*rx));
}

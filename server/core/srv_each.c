/* srv_each: see srv_each.h. */
#include "srv_each.h"

#include "srv_priv.h"

void nc_srv_each_conn(nc_srv *srv, void (*fn)(void *ud, nc_conn *c), void *ud) {
  nc_strmap_iter it;
  void *cv;
  nc_strmap_iter_init(&it, srv->conns);
  while (nc_strmap_iter_next(&it, NULL, &cv))
    fn(ud, cv);
}

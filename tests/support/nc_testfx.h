/* nc_testfx: the usual fixture of a server integration test: one real
 * nacosd (a one-node nc_testcluster on 127.0.0.1, ports read back), a gRPC
 * client env, and the nc_testwire clients the test opened, all closed by
 * nc_tfx_stop, also when an assertion ended the test half-way (an open
 * client would otherwise block the env's teardown). */
#ifndef NC_TESTFX_H
#define NC_TESTFX_H

#include "nc_testcluster.h"
#include "nc_testwire.h"

#define NC_TFX_MAX_CLIENTS 16

typedef struct nc_tfx {
  nc_tcluster *cl;
  nc_test_nacosd *srv; /* the node: host, ports, target, proc */
  nc_gcli_env *env;
  nc_tw *tw[NC_TFX_MAX_CLIENTS];
} nc_tfx;

/* Starts nacosd with args (NULL-terminated, may be NULL) and the env.
 * *out owned by the caller (nc_tfx_stop); NULL on failure. */
int nc_tfx_start(const char *const *args, nc_tfx **out);
/* Connects a client (o may be NULL) and keeps it for nc_tfx_stop; NULL on
 * failure (nacosd's log is dumped). */
nc_tw *nc_tfx_connect(nc_tfx *f, const nc_tw_opts *o);
/* The same without the log dump, for a connect meant to fail: returns
 * nc_tw_connect's status (NC_EBUSY when the fixture holds too many). */
int nc_tfx_try_connect(nc_tfx *f, const nc_tw_opts *o, nc_tw **out);
/* Closes one client now (NULL: no-op). */
void nc_tfx_close(nc_tfx *f, nc_tw *tw);
/* Closes the clients and the env, stops nacosd (SIGTERM), removes the dir,
 * frees f. 0 when nacosd exited 0 (under ASan: no leaks). NULL: 0. */
int nc_tfx_stop(nc_tfx *f);
/* A metric (full name, e.g. "nacosd_connections") or -1. */
long long nc_tfx_metric(const nc_tfx *f, const char *name);

#endif

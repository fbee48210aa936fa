/* Private to the two nc_gcli implementations (nc_grpc_client.c on the
 * gRPC C core, nc_h2_*.c on nghttp2): what both share (nc_gcli_sync.c).
 * nc_gcli_unary itself lives there too, on top of nc_gcli_unary_async. */
#ifndef NC_GCLI_PRIV_H
#define NC_GCLI_PRIV_H

/* A gRPC status code as NC_* (0 for OK). */
int nc_gcli_status_from_grpc(int code);

#endif

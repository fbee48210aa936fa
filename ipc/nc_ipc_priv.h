/* nc_ipc_priv: what the library's own modules share and apps do not see. */
#ifndef NC_IPC_PRIV_H
#define NC_IPC_PRIV_H

#include "nc_ipc.h"

/* Records err with its local name as code and a formatted message for
 * nc_ipc_errcode()/nc_ipc_errmsg(); returns err. c may be NULL. */
int nc_ipc__fail(nc_ipc *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

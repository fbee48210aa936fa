/* nc_grpc: process-wide gRPC set-up shared by every binary.
 *
 * nc_grpc_init() turns off abseil's mutex deadlock detector (Debian builds
 * abseil without NDEBUG; its bookkeeping dominates CPU with thousands of
 * calls, see docs/grpc-c-core-notes) unless NC_GRPC_DEADLOCK_DETECTION=1 is
 * set in the environment, then calls grpc_init(). Call once from main. */
#ifndef NC_GRPC_H
#define NC_GRPC_H

void nc_grpc_init(void);
void nc_grpc_shutdown(void);

#endif

/* nc_auth_grpc: the SDK port's request check (nc_srv_set_auth's hook).
 *
 * The token is the accessToken header the SDKs put in Metadata.headers.
 * The resource comes from the body as Nacos's gRPC resource parsers take
 * it: naming (namespace, groupName, serviceName), config (tenant, group,
 * dataId; a batch listen checks each of its contexts); the action is 'w'
 * for NC_H_WRITE rows, else 'r'. Other rows need a valid token only.
 * Refusals are errorCode 403 (Nacos's NO_RIGHT) with Nacos's message.
 * Loop thread only. */
#ifndef NC_AUTH_GRPC_H
#define NC_AUTH_GRPC_H

#include "nc_payload.h"

/* ud is the nc_auth. Returns 0 or 403 with *msg. */
int nc_auth_grpc_check(void *ud, const nc_msg *req, unsigned flags, const char **msg);

#endif

/* nc_ipc_err: names and texts of nc_ipc_err, and the mapping from the
 * protocol's error code strings. Pure functions, no state. */
#include "nc_ipc.h"

#include <string.h>

const char *nc_ipc_err_name(int err) {
  switch (err) {
  case NC_IPC_OK:
    return "OK";
#define NC_IPC__NAME(name, m)                                                                      \
  case NC_IPC_E_##name:                                                                            \
    return #name;
    NC_IPC_ERR_MAP(NC_IPC__NAME)
#undef NC_IPC__NAME
  }
  return "UNKNOWN";
}

const char *nc_ipc_strerror(int err) {
  switch (err) {
  case NC_IPC_OK:
    return "success";
#define NC_IPC__MSG(name, m)                                                                       \
  case NC_IPC_E_##name:                                                                            \
    return m;
    NC_IPC_ERR_MAP(NC_IPC__MSG)
#undef NC_IPC__MSG
  }
  return "unknown error";
}

int nc_ipc_err_from_code(const char *code) {
  static const int remote[] = {NC_IPC_E_BAD_REQUEST, NC_IPC_E_TOO_LARGE, NC_IPC_E_NOT_FOUND,
                               NC_IPC_E_CONFLICT,    NC_IPC_E_FORBIDDEN, NC_IPC_E_UNAVAILABLE,
                               NC_IPC_E_TIMEOUT,     NC_IPC_E_INTERNAL};
  if (!code)
    return NC_IPC_E_UNKNOWN;
  for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
    if (strcmp(code, nc_ipc_err_name(remote[i])) == 0)
      return remote[i];
  return NC_IPC_E_UNKNOWN;
}

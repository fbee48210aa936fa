#include "nc_err.h"

const char *nc_strerror(int err) {
  switch (err) {
  case NC_OK:
    return "success";
#define NC__ERR_MSG(name, msg) case NC_E##name: return msg;
    NC_ERRNO_MAP(NC__ERR_MSG)
#undef NC__ERR_MSG
  default:
    return "unknown error";
  }
}

const char *nc_err_name(int err) {
  switch (err) {
  case NC_OK:
    return "OK";
#define NC__ERR_NAME(name, msg) case NC_E##name: return "E" #name;
    NC_ERRNO_MAP(NC__ERR_NAME)
#undef NC__ERR_NAME
  default:
    return "EUNKNOWN";
  }
}

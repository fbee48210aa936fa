/* nc_err: the project's one error enum. Functions return 0 or a negative
 * NC_E* value; results go through out-parameters. gRPC, errno and SQLite
 * codes are mapped to these at the edge that sees them. */
#ifndef NC_ERR_H
#define NC_ERR_H

#define NC_ERRNO_MAP(X)                                                      \
  X(NOMEM, "out of memory")                                                  \
  X(INVAL, "invalid argument")                                               \
  X(PARSE, "malformed input")                                                \
  X(TOOBIG, "input too large")                                               \
  X(NOTFOUND, "not found")                                                   \
  X(EXISTS, "already exists")                                                \
  X(CONFLICT, "conflict")                                                    \
  X(CLOSED, "connection closed")                                             \
  X(BUSY, "queue full")                                                      \
  X(TIMEOUT, "timed out")                                                    \
  X(IO, "i/o error")                                                         \
  X(GRPC, "grpc failure")                                                    \
  X(DB, "storage failure")                                                   \
  X(UNAVAIL, "unavailable")                                                  \
  X(PERM, "permission denied")                                               \
  X(STATE, "invalid state")

enum {
  NC_OK = 0,
#define NC__ERR_ENUM(name, msg) NC_E##name,
  NC__ERR_FIRST_ = -1000,
  NC_ERRNO_MAP(NC__ERR_ENUM)
#undef NC__ERR_ENUM
  NC__ERR_LAST_
};

/* Static strings; never NULL, also for unknown codes. */
const char *nc_strerror(int err);
const char *nc_err_name(int err);

#endif

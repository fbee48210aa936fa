/* nc_testroutes: the route matrix of test_http_route_matrix (issue 14,
 * acceptance 3): one row per (method, path) nacosd serves, with what each
 * caller must get against a node with --auth on. The rows are data only;
 * the test checks them against the server's route tables (every table
 * route has a row, every row a table route) and walks them.
 *
 * Query strings are written raw: nc_troutes_encode escapes the JSON
 * characters in them, leaving '&' and '=' as separators. */
#ifndef NC_TESTROUTES_H
#define NC_TESTROUTES_H

#include <stddef.h>

/* What a caller needs. OPEN: nothing (no token gets the ok answer); ANY:
 * any valid token; READ / WRITE: the 'r' / 'w' permission of the
 * namespace named (public when none); LIST: any valid token, and the
 * answer holds only what the caller may read (ok_body, public's, absent
 * for a user of another namespace); ADMIN: a global admin's token. */
typedef enum { NC_TR_OPEN, NC_TR_ANY, NC_TR_LIST, NC_TR_READ, NC_TR_WRITE, NC_TR_ADMIN } nc_tr_kind;

typedef struct nc_troute {
  const char *method, *path, *module; /* module: naming, config, core, auth */
  nc_tr_kind kind;
  /* the admin's request in table order (creates what later rows need);
   * ok_st the status it gets (0: any 2xx), ok_body a part of its body
   * (NULL: not checked) */
  const char *ok;
  int ok_st;
  const char *ok_body;
  /* the request with a required parameter left out (NULL: none is
   * required), its status and a part of its body */
  const char *miss;
  int miss_st;
  const char *miss_body;
  /* the request naming an unknown namespace (NULL: the route takes none),
   * its status and a part of its body */
  const char *unk;
  int unk_st;
  const char *unk_body;
} nc_troute;

extern const nc_troute nc_troutes[];
extern const size_t nc_troutes_n;

/* "path?query" with query's JSON characters escaped into buf (cap);
 * query NULL or "": path alone. */
void nc_troutes_url(char *buf, size_t cap, const char *path, const char *query);

#endif

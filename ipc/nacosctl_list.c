/* nacosctl_list: the listings (services, config list, config history),
 * one history version, config rollback and deregister. Listings fetch every
 * page and print one table (text) or one JSON object holding all rows
 * (--json), shaped like the agent's result so a script sees the protocol's
 * field names. */
#include "nacosctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pages fetched at most: 1000 rows each, far beyond any real listing; it
 * only stops a misbehaving agent from looping us forever. */
#define MAX_PAGES 10000
#define PAGE_SIZE 1000

/* Moves every element of page's array `key` to the end of all. */
static int take_rows(cJSON *page, const char *key, cJSON *all) {
  cJSON *arr = cJSON_GetObjectItemCaseSensitive(page, key);
  int n = 0;
  if (!cJSON_IsArray(arr))
    return 0;
  while (arr->child) {
    cJSON *it = cJSON_DetachItemViaPointer(arr, arr->child);
    cJSON_AddItemToArray(all, it);
    n++;
  }
  return n;
}

static double num_field(const cJSON *o, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* One page of a listing into *r (the agent's result). */
typedef int (*page_fn)(nc_ipc *c, const ctl_args *a, int page, cJSON **r);

/* Every page's rows_key rows into *rows (a new array, caller frees) and the
 * total (count_key) into *total; stops at an empty page, the total, or
 * pagesAvailable when the result has it. 0 or the exit code. */
static int fetch_all(nc_ipc *c, const ctl_args *a, const char *what, page_fn fn,
                     const char *rows_key, const char *count_key, cJSON **rows, double *total) {
  if (!(*rows = cJSON_CreateArray()))
    return CTL_EXIT_UNREACHABLE;
  for (int page = 1; page <= MAX_PAGES; page++) {
    cJSON *r = NULL;
    int err = fn(c, a, page, &r);
    if (err)
      return ctl_fail(c, what, err);
    *total = num_field(r, count_key);
    double pages = num_field(r, "pagesAvailable");
    int got = take_rows(r, rows_key, *rows);
    cJSON_Delete(r);
    if (got == 0 || cJSON_GetArraySize(*rows) >= *total || (pages > 0 && page >= pages))
      break;
  }
  return 0;
}

/* --json for a listing: {count_key: total, rows_key: rows}; rows moved in. */
static void print_all_json(const char *count_key, double total, const char *rows_key,
                           cJSON **rows) {
  cJSON *o = cJSON_CreateObject();
  if (o && cJSON_AddNumberToObject(o, count_key, total) &&
      cJSON_AddItemToObject(o, rows_key, *rows)) {
    *rows = NULL;
    ctl_print_json_line(o);
  }
  cJSON_Delete(o);
}

static int services_page(nc_ipc *c, const ctl_args *a, int page, cJSON **r) {
  return nc_ipc_services(c, a->ns, a->group, page, PAGE_SIZE, NC_IPC_TIMEOUT_DEFAULT, r);
}

static int config_page(nc_ipc *c, const ctl_args *a, int page, cJSON **r) {
  return nc_ipc_config_list(c, a->ns, a->group, a->data_id, page, PAGE_SIZE, NC_IPC_TIMEOUT_DEFAULT,
                            r);
}

int ctl_cmd_services(nc_ipc *c, const ctl_args *a) {
  cJSON *names = NULL;
  double count = 0;
  int rc = fetch_all(c, a, "services", services_page, "services", "count", &names, &count);
  if (rc == 0 && a->json) {
    print_all_json("count", count, "services", &names);
  } else if (rc == 0) {
    const cJSON *it;
    cJSON_ArrayForEach(it, names) {
      if (cJSON_IsString(it))
        puts(it->valuestring);
    }
    if (!names->child)
      puts("(no services)");
    fflush(stdout);
  }
  cJSON_Delete(names);
  return rc;
}

int ctl_cmd_config_list(nc_ipc *c, const ctl_args *a) {
  static const char *const heads[] = {"DATA_ID", "GROUP", "NAMESPACE", "MD5", "LAST_MODIFIED"};
  static const char *const keys[] = {"dataId", "group", "namespace", "md5", "lastModified"};
  cJSON *items = NULL;
  double total = 0;
  int rc = fetch_all(c, a, "config list", config_page, "items", "totalCount", &items, &total);
  if (rc == 0 && a->json)
    print_all_json("totalCount", total, "items", &items);
  else if (rc == 0)
    ctl_print_table(items, heads, keys, 5, "(no configs)");
  cJSON_Delete(items);
  return rc;
}

/* Params {namespace?, group?, dataId, historyId} of the version ops;
 * NULL on OOM. */
static cJSON *version_params(const ctl_args *a, long long id) {
  cJSON *o = cJSON_CreateObject();
  if (!o || (a->ns && !cJSON_AddStringToObject(o, "namespace", a->ns)) ||
      (a->group && !cJSON_AddStringToObject(o, "group", a->group)) ||
      !cJSON_AddStringToObject(o, "dataId", a->pos[0]) ||
      !cJSON_AddNumberToObject(o, "historyId", (double)id)) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}

/* One op over version_params; 0 or the exit code after printing why. */
static int version_call(nc_ipc *c, const ctl_args *a, const char *op, const char *what,
                        long long id, cJSON **r) {
  cJSON *params = version_params(a, id);
  if (!params) {
    fprintf(stderr, "%s: %s: out of memory\n", ctl_prog, what);
    return CTL_EXIT_UNREACHABLE;
  }
  int err = nc_ipc_call(c, op, params, NC_IPC_TIMEOUT_DEFAULT, r);
  cJSON_Delete(params);
  return err ? ctl_fail(c, what, err) : 0;
}

/* --version ID: the content as stored (like config get), or the row. */
static int show_version(nc_ipc *c, const ctl_args *a) {
  cJSON *r = NULL;
  int rc = version_call(c, a, "config.history", "config history", a->version, &r);
  if (rc)
    return rc;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "version");
  const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "content"));
  if (a->json) {
    ctl_print_json_line(r);
  } else if (!content) {
    fprintf(stderr, "%s: config history: version %lld has no recorded content (written "
                    "before versions were kept)\n",
            ctl_prog, a->version);
    rc = CTL_EXIT_AGENT;
  } else {
    fputs(content, stdout);
    fflush(stdout);
  }
  cJSON_Delete(r);
  return rc;
}

/* The op as a word for people; a rollback's row names the version it
 * restored. */
static void add_op_word(cJSON *it) {
  const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "opType"));
  const char *word = !op                ? "?"
                     : !strcmp(op, "I") ? "insert"
                     : !strcmp(op, "U") ? "update"
                     : !strcmp(op, "D") ? "delete"
                                        : op;
  char buf[64];
  double rb = num_field(it, "rollbackOf");
  if (rb > 0)
    snprintf(buf, sizeof(buf), "%s (rollback to %.0f)", word, rb);
  else
    snprintf(buf, sizeof(buf), "%s", word);
  cJSON_AddStringToObject(it, "op", buf);
}

int ctl_cmd_config_history(nc_ipc *c, const ctl_args *a) {
  static const char *const heads[] = {"ID", "OP", "TIME", "MD5", "SRC_IP", "SRC_USER"};
  static const char *const keys[] = {"id", "op", "lastModifiedTime", "md5", "srcIp", "srcUser"};
  cJSON *r = NULL, *it;
  if (a->version)
    return show_version(c, a);
  int err = nc_ipc_config_history(c, a->ns, a->group, a->pos[0], 0, NC_IPC_TIMEOUT_DEFAULT, &r);
  if (err)
    return ctl_fail(c, "config history", err);
  cJSON *items = cJSON_GetObjectItemCaseSensitive(r, "items");
  if (a->json) {
    ctl_print_json_line(r);
  } else {
    /* The letters as words for people; --json keeps the protocol's. */
    cJSON_ArrayForEach(it, items) add_op_word(it);
    ctl_print_table(items, heads, keys, 6, "(no history)");
  }
  cJSON_Delete(r);
  return 0;
}

/* a->version is the ID, checked by main before connecting. */
int ctl_cmd_config_rollback(nc_ipc *c, const ctl_args *a) {
  long long id = a->version;
  cJSON *r = NULL;
  int rc = version_call(c, a, "config.rollback", "config rollback", id, &r);
  if (rc)
    return rc;
  if (a->json) {
    ctl_print_json_line(r);
  } else {
    const char *md5 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "md5"));
    printf("rolled back %s to version %lld md5=%s\n", a->pos[0], id, md5 ? md5 : "-");
    fflush(stdout);
  }
  cJSON_Delete(r);
  return 0;
}

int ctl_cmd_deregister(nc_ipc *c, const ctl_args *a) {
  nc_ipc_instance in;
  ctl_instance_from_args(a, &in);
  int err = nc_ipc_deregister(c, &in, NC_IPC_TIMEOUT_DEFAULT);
  if (err)
    return ctl_fail(c, "deregister", err);
  if (a->json) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "event", "deregistered");
    cJSON_AddStringToObject(o, "service", in.service);
    cJSON_AddStringToObject(o, "ip", in.ip);
    cJSON_AddNumberToObject(o, "port", in.port);
    ctl_print_json_line(o);
    cJSON_Delete(o);
  } else {
    int v6 = strchr(in.ip, ':') != NULL;
    printf("deregistered %s %s%s%s:%d\n", in.service, v6 ? "[" : "", in.ip, v6 ? "]" : "", in.port);
    fflush(stdout);
  }
  return 0;
}

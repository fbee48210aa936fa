/* nacosctl_list: the listings (services, config list, config history) and
 * deregister. Listings fetch every page and print one table (text) or one
 * JSON object holding all rows (--json), shaped like the agent's result so
 * a script sees the protocol's field names. */
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

int ctl_cmd_config_history(nc_ipc *c, const ctl_args *a) {
  static const char *const heads[] = {"ID", "OP", "TIME", "MD5", "SRC_IP", "SRC_USER"};
  static const char *const keys[] = {"id", "op", "lastModifiedTime", "md5", "srcIp", "srcUser"};
  cJSON *r = NULL, *it;
  int err = nc_ipc_config_history(c, a->ns, a->group, a->pos[0], 0, NC_IPC_TIMEOUT_DEFAULT, &r);
  if (err)
    return ctl_fail(c, "config history", err);
  cJSON *items = cJSON_GetObjectItemCaseSensitive(r, "items");
  if (a->json) {
    ctl_print_json_line(r);
  } else {
    /* The letters as words for people; --json keeps the protocol's. */
    cJSON_ArrayForEach(it, items) {
      const char *op = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "opType"));
      const char *word = !op                ? "?"
                         : !strcmp(op, "I") ? "insert"
                         : !strcmp(op, "U") ? "update"
                         : !strcmp(op, "D") ? "delete"
                                            : op;
      cJSON_AddStringToObject(it, "op", word);
    }
    ctl_print_table(items, heads, keys, 6, "(no history)");
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

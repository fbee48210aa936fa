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

int ctl_cmd_services(nc_ipc *c, const ctl_args *a) {
  cJSON *names = cJSON_CreateArray(), *out = NULL;
  double count = 0;
  int rc = 0;
  if (!names)
    return CTL_EXIT_UNREACHABLE;
  for (int page = 1; page <= MAX_PAGES; page++) {
    cJSON *r = NULL;
    int err = nc_ipc_services(c, a->ns, a->group, page, PAGE_SIZE, NC_IPC_TIMEOUT_DEFAULT, &r);
    if (err) {
      rc = ctl_fail(c, "services", err);
      goto out;
    }
    count = num_field(r, "count");
    int got = take_rows(r, "services", names);
    cJSON_Delete(r);
    if (got == 0 || cJSON_GetArraySize(names) >= count)
      break;
  }
  if (a->json) {
    out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "count", count);
    cJSON_AddItemToObject(out, "services", names);
    names = NULL;
    ctl_print_json_line(out);
  } else {
    const cJSON *it;
    cJSON_ArrayForEach(it, names) {
      if (cJSON_IsString(it))
        puts(it->valuestring);
    }
    if (!names->child)
      puts("(no services)");
    fflush(stdout);
  }
out:
  cJSON_Delete(names);
  cJSON_Delete(out);
  return rc;
}

int ctl_cmd_config_list(nc_ipc *c, const ctl_args *a) {
  static const char *const heads[] = {"DATA_ID", "GROUP", "NAMESPACE", "MD5", "LAST_MODIFIED"};
  static const char *const keys[] = {"dataId", "group", "namespace", "md5", "lastModified"};
  cJSON *items = cJSON_CreateArray(), *out = NULL;
  double total = 0;
  int rc = 0;
  if (!items)
    return CTL_EXIT_UNREACHABLE;
  for (int page = 1; page <= MAX_PAGES; page++) {
    cJSON *r = NULL;
    int err = nc_ipc_config_list(c, a->ns, a->group, a->data_id, page, PAGE_SIZE,
                                 NC_IPC_TIMEOUT_DEFAULT, &r);
    if (err) {
      rc = ctl_fail(c, "config list", err);
      goto out;
    }
    total = num_field(r, "totalCount");
    double pages = num_field(r, "pagesAvailable");
    int got = take_rows(r, "items", items);
    cJSON_Delete(r);
    if (got == 0 || page >= pages)
      break;
  }
  if (a->json) {
    out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "totalCount", total);
    cJSON_AddItemToObject(out, "items", items);
    items = NULL;
    ctl_print_json_line(out);
  } else {
    ctl_print_table(items, heads, keys, 5, "(no configs)");
  }
out:
  cJSON_Delete(items);
  cJSON_Delete(out);
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

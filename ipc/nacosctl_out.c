/* nacosctl_out: text and JSON rendering of agent results for nacosctl. */
#include "nacosctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- output helpers ---------------------------------------------------- */

void ctl_print_json_line(const cJSON *o) {
  char *s = cJSON_PrintUnformatted(o);
  if (s) {
    puts(s);
    free(s);
  }
  fflush(stdout);
}

/* Text form of a scalar or compact JSON for the rest; caller frees. */
static char *value_text(const cJSON *v) {
  char buf[64];
  if (cJSON_IsString(v))
    return strdup(v->valuestring);
  if (cJSON_IsBool(v))
    return strdup(cJSON_IsTrue(v) ? "yes" : "no");
  if (cJSON_IsNull(v) || !v)
    return strdup("-");
  if (cJSON_IsNumber(v)) {
    if (v->valuedouble == (double)(long long)v->valuedouble)
      snprintf(buf, sizeof(buf), "%lld", (long long)v->valuedouble);
    else
      snprintf(buf, sizeof(buf), "%g", v->valuedouble);
    return strdup(buf);
  }
  return cJSON_PrintUnformatted(v);
}

void ctl_print_kv_block(const cJSON *o) {
  int w = 0;
  for (const cJSON *it = o->child; it; it = it->next)
    if (it->string && (int)strlen(it->string) > w)
      w = (int)strlen(it->string);
  for (const cJSON *it = o->child; it; it = it->next) {
    char *v = value_text(it);
    printf("%-*s  %s\n", w, it->string ? it->string : "", v ? v : "?");
    free(v);
  }
  fflush(stdout);
}

/* Metadata as "k=v,k2=v2" ("-" when empty); caller frees. */
static char *meta_text(const cJSON *m) {
  size_t len = 0;
  if (!cJSON_IsObject(m) || !m->child)
    return strdup("-");
  for (const cJSON *it = m->child; it; it = it->next) {
    char *v = value_text(it);
    len += strlen(it->string ? it->string : "") + (v ? strlen(v) : 0) + 2;
    free(v);
  }
  char *out = malloc(len + 1);
  if (!out)
    return NULL;
  out[0] = '\0';
  for (const cJSON *it = m->child; it; it = it->next) {
    char *v = value_text(it);
    if (out[0])
      strcat(out, ",");
    strcat(out, it->string ? it->string : "");
    strcat(out, "=");
    strcat(out, v ? v : "");
    free(v);
  }
  return out;
}

/* "2026-12-03T09:35:34Z" for ms since the epoch; caller frees. */
static char *time_text(const cJSON *v) {
  if (!cJSON_IsNumber(v) || v->valuedouble <= 0)
    return strdup("-");
  time_t t = (time_t)(v->valuedouble / 1000);
  struct tm tm;
  char buf[32];
  gmtime_r(&t, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return strdup(buf);
}

/* One cell: metadata objects as k=v lists, "last*" numbers as times. */
static char *cell_text(const char *key, const cJSON *v) {
  if (!strcmp(key, "metadata"))
    return meta_text(v);
  if (!strncmp(key, "last", 4))
    return time_text(v);
  return value_text(v);
}

void ctl_print_table(const cJSON *rows, const char *const *heads, const char *const *keys, int ncol,
                     const char *empty) {
  int n = cJSON_GetArraySize(rows), w[16];
  if (ncol > 16)
    return;
  char **cells = calloc((size_t)(n > 0 ? n : 1) * (size_t)ncol, sizeof(char *));
  if (!cells)
    return;
  for (int c = 0; c < ncol; c++)
    w[c] = (int)strlen(heads[c]);
  for (int r = 0; r < n; r++) {
    const cJSON *row = cJSON_GetArrayItem(rows, r);
    for (int c = 0; c < ncol; c++) {
      char *t = cell_text(keys[c], cJSON_GetObjectItemCaseSensitive(row, keys[c]));
      cells[r * ncol + c] = t;
      if (t && (int)strlen(t) > w[c])
        w[c] = (int)strlen(t);
    }
  }
  /* The last column is not padded: no trailing blanks. */
  for (int r = -1; r < n; r++)
    for (int c = 0; c < ncol; c++) {
      const char *t = r < 0 ? heads[c] : cells[r * ncol + c] ? cells[r * ncol + c] : "?";
      if (c == ncol - 1)
        printf("%s\n", t);
      else
        printf("%-*s  ", w[c], t);
    }
  if (n == 0 && empty)
    printf("%s\n", empty);
  for (int i = 0; i < n * ncol; i++)
    free(cells[i]);
  free(cells);
  fflush(stdout);
}

/* Aligned host table: IP PORT WEIGHT HEALTHY ENABLED CLUSTER METADATA. */
void ctl_print_hosts(const cJSON *hosts) {
  static const char *const head[] = {"IP",      "PORT",    "WEIGHT",  "HEALTHY",
                                     "ENABLED", "CLUSTER", "METADATA"};
  static const char *const keys[] = {"ip",      "port",    "weight",  "healthy",
                                     "enabled", "cluster", "metadata"};
  ctl_print_table(hosts, head, keys, 7, "(no instances)");
}

void ctl_now_text(char *buf, size_t len) {
  time_t t = time(NULL);
  struct tm tm;
  localtime_r(&t, &tm);
  strftime(buf, len, "%H:%M:%S", &tm);
}

void ctl_print_config_state(const cJSON *o, const char *data_id) {
  char ts[16];
  ctl_now_text(ts, sizeof(ts));
  const char *content = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "content"));
  const char *md5 = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "md5"));
  const cJSON *exists = cJSON_GetObjectItemCaseSensitive(o, "exists");
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "deleted")) || cJSON_IsFalse(exists) ||
      !content) {
    printf("== %s %s: (absent)\n", ts, data_id);
  } else {
    printf("== %s %s md5=%s (%zu bytes)\n%s", ts, data_id, md5 ? md5 : "-", strlen(content),
           content);
    if (*content && content[strlen(content) - 1] != '\n')
      putchar('\n');
  }
  fflush(stdout);
}

/* nc_pushbox: see pushbox.h. */
#include "pushbox.h"
#include "nc_err.h"
#include "nc_json.h"
#include "nc_strmap.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nc_pushbox {
  pthread_mutex_t lock;
  nc_strmap *pending; /* key -> cJSON* */
  uint64_t replaced;
};

nc_pushbox *nc_pushbox_new(void) {
  nc_pushbox *b = calloc(1, sizeof(*b));
  if (!b || !(b->pending = nc_strmap_new())) {
    free(b);
    return NULL;
  }
  pthread_mutex_init(&b->lock, NULL);
  return b;
}

static void free_body(void *v) { cJSON_Delete(v); }

void nc_pushbox_free(nc_pushbox *b) {
  if (!b)
    return;
  nc_strmap_free(b->pending, free_body);
  pthread_mutex_destroy(&b->lock);
  free(b);
}

int nc_pushbox_put(nc_pushbox *b, const char *key, cJSON *body) {
  void *old = NULL;
  pthread_mutex_lock(&b->lock);
  int rc = nc_strmap_put(b->pending, key, body, &old);
  if (old)
    b->replaced++;
  pthread_mutex_unlock(&b->lock);
  if (rc) {
    cJSON_Delete(body);
    return rc;
  }
  cJSON_Delete(old);
  return old ? 0 : 1;
}

cJSON *nc_pushbox_take(nc_pushbox *b, const char *key) {
  pthread_mutex_lock(&b->lock);
  cJSON *v = nc_strmap_del(b->pending, key);
  pthread_mutex_unlock(&b->lock);
  return v;
}

uint64_t nc_pushbox_replaced(nc_pushbox *b) {
  pthread_mutex_lock(&b->lock);
  uint64_t n = b->replaced;
  pthread_mutex_unlock(&b->lock);
  return n;
}

int nc_pushbox_put_hosts(nc_pushbox *b, cJSON *body, char **key) {
  const cJSON *si = cJSON_GetObjectItemCaseSensitive(body, "serviceInfo");
  const char *g = nc_json_str(si, "groupName", ""), *n = nc_json_str(si, "name", "");
  const char *cl = nc_json_str(si, "clusters", "");
  int len = snprintf(NULL, 0, "%s\x1f%s\x1f%s", g, n, cl);
  char *k = len >= 0 ? malloc((size_t)len + 1) : NULL;
  *key = NULL;
  if (!k) {
    cJSON_Delete(body);
    return NC_ENOMEM;
  }
  snprintf(k, (size_t)len + 1, "%s\x1f%s\x1f%s", g, n, cl);
  int rc = nc_pushbox_put(b, k, body);
  if (rc == 1)
    *key = k;
  else
    free(k);
  return rc;
}

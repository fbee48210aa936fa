#include "config_util.h"

#include "nc_err.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *nc_cfg_norm_tenant(const char *tenant) {
  if (nc_cfg_blank(tenant) || strcasecmp(tenant, "public") == 0 || strcasecmp(tenant, "null") == 0)
    return "";
  return tenant;
}

int nc_cfg_blank(const char *s) {
  if (!s)
    return 1;
  for (; *s; s++)
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != '\f' && *s != '\v')
      return 0;
  return 1;
}

static size_t escaped_len(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    n += (*s == '+' || *s == '%') ? 3 : 1;
  return n;
}

static char *escape_into(char *p, const char *s) {
  for (; *s; s++) {
    if (*s == '+') {
      memcpy(p, "%2B", 3);
      p += 3;
    } else if (*s == '%') {
      memcpy(p, "%25", 3);
      p += 3;
    } else {
      *p++ = *s;
    }
  }
  return p;
}

char *nc_cfg_group_key(const char *data_id, const char *group, const char *tenant) {
  int has_tenant = tenant && *tenant;
  size_t n = escaped_len(data_id) + 1 + escaped_len(group) + 1;
  if (has_tenant)
    n += 1 + escaped_len(tenant);
  char *out = malloc(n);
  if (!out)
    return NULL;
  char *p = escape_into(out, data_id);
  *p++ = '+';
  p = escape_into(p, group);
  if (has_tenant) {
    *p++ = '+';
    p = escape_into(p, tenant);
  }
  *p = '\0';
  return out;
}

static int alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int nc_cfg_valid_name(const char *s, size_t max) {
  if (!s || !*s)
    return 0;
  size_t n = 0;
  for (; *s; s++, n++)
    if (!alnum(*s) && *s != '-' && *s != '_' && *s != ':' && *s != '.')
      return 0;
  return n <= max;
}

int nc_cfg_valid_tenant(const char *s) {
  size_t n = 0;
  for (; *s; s++, n++)
    if (!alnum(*s) && *s != '-' && *s != '_')
      return 0;
  return n <= 128;
}

const char *nc_cfg_content_type(const char *type) {
  static const char *known[] = {"text", "json", "xml", "yaml", "html", "properties", "toml"};
  if (type)
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
      if (strcasecmp(type, known[i]) == 0)
        return known[i];
  return "text";
}

/* ---- hash map ---- */

typedef struct map_ent {
  struct map_ent *next;
  uint64_t hash;
  void *val;
  char key[]; /* NUL-terminated copy */
} map_ent;

struct nc_cfg_map {
  map_ent **slots;
  size_t nslots; /* power of two */
  size_t count;
};

static uint64_t fnv1a(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

nc_cfg_map *nc_cfg_map_new(void) {
  nc_cfg_map *m = calloc(1, sizeof(*m));
  if (!m)
    return NULL;
  m->nslots = 64;
  m->slots = calloc(m->nslots, sizeof(*m->slots));
  if (!m->slots) {
    free(m);
    return NULL;
  }
  return m;
}

void nc_cfg_map_free(nc_cfg_map *m, void (*val_free)(void *val)) {
  if (!m)
    return;
  for (size_t i = 0; i < m->nslots; i++) {
    map_ent *e = m->slots[i];
    while (e) {
      map_ent *next = e->next;
      if (val_free)
        val_free(e->val);
      free(e);
      e = next;
    }
  }
  free(m->slots);
  free(m);
}

static map_ent **find_slot(const nc_cfg_map *m, const char *key, uint64_t h) {
  map_ent **pp = &m->slots[h & (m->nslots - 1)];
  while (*pp && ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
    pp = &(*pp)->next;
  return pp;
}

void *nc_cfg_map_get(const nc_cfg_map *m, const char *key) {
  map_ent *e = *find_slot(m, key, fnv1a(key));
  return e ? e->val : NULL;
}

/* Doubles the table when the load passes 1; failure to grow is harmless
 * (chains just get longer). */
static void grow(nc_cfg_map *m) {
  size_t n = m->nslots * 2;
  map_ent **slots = calloc(n, sizeof(*slots));
  if (!slots)
    return;
  for (size_t i = 0; i < m->nslots; i++) {
    map_ent *e = m->slots[i];
    while (e) {
      map_ent *next = e->next;
      e->next = slots[e->hash & (n - 1)];
      slots[e->hash & (n - 1)] = e;
      e = next;
    }
  }
  free(m->slots);
  m->slots = slots;
  m->nslots = n;
}

int nc_cfg_map_put(nc_cfg_map *m, const char *key, void *val, void **old) {
  uint64_t h = fnv1a(key);
  map_ent **pp = find_slot(m, key, h);
  if (*pp) {
    if (old)
      *old = (*pp)->val;
    (*pp)->val = val;
    return 0;
  }
  size_t klen = strlen(key);
  map_ent *e = malloc(sizeof(*e) + klen + 1);
  if (!e)
    return NC_ENOMEM;
  memcpy(e->key, key, klen + 1);
  e->hash = h;
  e->val = val;
  e->next = NULL;
  *pp = e;
  m->count++;
  if (old)
    *old = NULL;
  if (m->count > m->nslots)
    grow(m);
  return 0;
}

void *nc_cfg_map_del(nc_cfg_map *m, const char *key) {
  map_ent **pp = find_slot(m, key, fnv1a(key));
  map_ent *e = *pp;
  if (!e)
    return NULL;
  *pp = e->next;
  void *val = e->val;
  free(e);
  m->count--;
  return val;
}

size_t nc_cfg_map_size(const nc_cfg_map *m) { return m->count; }

void nc_cfg_map_foreach(const nc_cfg_map *m, void (*fn)(void *ud, const char *key, void *val),
                        void *ud) {
  for (size_t i = 0; i < m->nslots; i++)
    for (map_ent *e = m->slots[i]; e; e = e->next)
      fn(ud, e->key, e->val);
}

#include "config_util.h"

#include "nc_json.h"

#include <stdio.h>
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

const char *nc_cfg_check_key(const cJSON *o, nc_cfg_key *k, char *buf, size_t cap) {
  return nc_cfg_check_names(nc_json_str(o, "dataId", ""), nc_json_str(o, "group", ""),
                            nc_json_str(o, "tenant", ""), k, buf, cap);
}

const char *nc_cfg_check_names(const char *data_id, const char *group, const char *tenant,
                               nc_cfg_key *k, char *buf, size_t cap) {
  k->data_id = data_id ? data_id : "";
  k->group = group ? group : "";
  k->raw_tenant = tenant ? tenant : "";
  k->tenant = nc_cfg_norm_tenant(k->raw_tenant);
  if (!*k->data_id)
    return "dataId is blank";
  if (!nc_cfg_valid_name(k->data_id, NC_CFG_MAX_DATA_ID)) {
    snprintf(buf, cap, "invalid dataId '%.64s': use 1-%d characters of [a-zA-Z0-9-_:.]", k->data_id,
             NC_CFG_MAX_DATA_ID);
    return buf;
  }
  if (!*k->group)
    return "group is blank";
  if (!nc_cfg_valid_name(k->group, NC_CFG_MAX_GROUP)) {
    snprintf(buf, cap, "invalid group '%.64s': use 1-%d characters of [a-zA-Z0-9-_:.]", k->group,
             NC_CFG_MAX_GROUP);
    return buf;
  }
  if (!nc_cfg_valid_tenant(k->tenant)) {
    snprintf(buf, cap, "invalid tenant '%.64s': use up to 128 characters of [a-zA-Z0-9-_]",
             k->tenant);
    return buf;
  }
  return NULL;
}

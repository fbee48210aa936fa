#include "cache.h"
#include "nc_md5.h"
#include "nc_err.h"
#include "nc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct nc_cache {
  char *dir;
  unsigned tmp_seq;
};

static int mkdir_p(const char *path) {
  char buf[4096];
  size_t len = strlen(path);
  if (len >= sizeof(buf))
    return NC_EINVAL;
  memcpy(buf, path, len + 1);
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0750) != 0 && errno != EEXIST)
        return NC_EIO;
      buf[i] = c;
    }
  }
  return 0;
}

int nc_cache_open(const char *dir, nc_cache **out) {
  char sub[4096];
  int rc = 0;
  nc_cache *c = calloc(1, sizeof(*c));
  if (!c || !(c->dir = strdup(dir))) {
    rc = NC_ENOMEM;
    goto out;
  }
  snprintf(sub, sizeof(sub), "%s/naming", dir);
  if ((rc = mkdir_p(sub)) != 0)
    goto out;
  snprintf(sub, sizeof(sub), "%s/config", dir);
  if ((rc = mkdir_p(sub)) != 0)
    goto out;
  *out = c;
  c = NULL;
out:
  if (rc)
    nc_error("cache: cannot create %s: %s", dir, strerror(errno));
  if (c) {
    free(c->dir);
    free(c);
  }
  return rc;
}

void nc_cache_close(nc_cache *c) {
  if (!c)
    return;
  free(c->dir);
  free(c);
}

/* File names keep [A-Za-z0-9._-] and %-encode the rest, so '@' can
 * separate the parts unambiguously; over-long names fall back to an MD5. */
static void enc_append(char *out, size_t cap, size_t *pos, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s && *pos + 4 < cap; s++) {
    unsigned char ch = (unsigned char)*s;
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
        ch == '.' || ch == '-' || ch == '_') {
      out[(*pos)++] = (char)ch;
    } else {
      out[(*pos)++] = '%';
      out[(*pos)++] = hex[ch >> 4];
      out[(*pos)++] = hex[ch & 15];
    }
  }
  out[*pos] = '\0';
}

static void file_path(nc_cache *c, const char *kind, const char *a, const char *b, const char *d,
                      char *path, size_t cap) {
  char name[1024];
  size_t pos = 0;
  enc_append(name, sizeof(name), &pos, a);
  enc_append(name, sizeof(name), &pos, "@@");
  enc_append(name, sizeof(name), &pos, b);
  enc_append(name, sizeof(name), &pos, "@@");
  enc_append(name, sizeof(name), &pos, d);
  if (pos > 200 || name[0] == '.') {
    char raw[3072];
    char hexd[33];
    int n = snprintf(raw, sizeof(raw), "%s\n%s\n%s", a, b, d);
    nc_md5_hex(raw, n > 0 ? (size_t)n : 0, hexd);
    snprintf(name, sizeof(name), "h-%s", hexd);
  }
  snprintf(path, cap, "%s/%s/%s.json", c->dir, kind, name);
}

static int write_atomic(nc_cache *c, const char *path, const char *data, size_t len) {
  char tmp[4200];
  snprintf(tmp, sizeof(tmp), "%s.tmp%u.%d", path, c->tmp_seq++, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0)
    goto fail;
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      close(fd);
      unlink(tmp);
      goto fail;
    }
    off += (size_t)w;
  }
  if (close(fd) != 0 || rename(tmp, path) != 0) {
    unlink(tmp);
    goto fail;
  }
  return 0;
fail:
  nc_warn("cache: cannot write %s: %s", path, strerror(errno));
  return NC_EIO;
}

static int read_json(const char *path, cJSON **out) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  int rc = NC_ENOTFOUND;
  if (!f)
    goto out;
  if (fseek(f, 0, SEEK_END) != 0)
    goto out;
  long sz = ftell(f);
  if (sz < 0 || fseek(f, 0, SEEK_SET) != 0)
    goto out;
  buf = malloc((size_t)sz + 1);
  if (!buf) {
    rc = NC_ENOMEM;
    goto out;
  }
  if (fread(buf, 1, (size_t)sz, f) != (size_t)sz)
    goto out;
  buf[sz] = '\0';
  *out = cJSON_Parse(buf);
  rc = *out && cJSON_IsObject(*out) ? 0 : NC_EPARSE;
  if (rc && *out) {
    cJSON_Delete(*out);
    *out = NULL;
  }
out:
  if (f)
    fclose(f);
  free(buf);
  return rc;
}

static int write_obj(nc_cache *c, const char *path, cJSON *obj) {
  char *s = cJSON_PrintUnformatted(obj);
  if (!s)
    return NC_ENOMEM;
  int rc = write_atomic(c, path, s, strlen(s));
  free(s);
  return rc;
}

int nc_cache_put_hosts(nc_cache *c, const char *ns, const char *group, const char *service,
                       const cJSON *hosts) {
  char path[4096];
  int rc = NC_ENOMEM;
  file_path(c, "naming", ns, group, service, path, sizeof(path));
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddStringToObject(o, "namespace", ns) ||
      !cJSON_AddStringToObject(o, "group", group) ||
      !cJSON_AddStringToObject(o, "service", service))
    goto out;
  cJSON *h = cJSON_Duplicate(hosts, 1);
  if (!h)
    goto out;
  cJSON_AddItemToObject(o, "hosts", h);
  rc = write_obj(c, path, o);
out:
  cJSON_Delete(o);
  return rc;
}

int nc_cache_get_hosts(nc_cache *c, const char *ns, const char *group, const char *service,
                       cJSON **hosts) {
  char path[4096];
  cJSON *o = NULL;
  file_path(c, "naming", ns, group, service, path, sizeof(path));
  int rc = read_json(path, &o);
  if (rc)
    return rc == NC_EPARSE ? NC_ENOTFOUND : rc;
  cJSON *h = cJSON_DetachItemFromObject(o, "hosts");
  cJSON_Delete(o);
  if (!cJSON_IsArray(h)) {
    cJSON_Delete(h);
    return NC_ENOTFOUND;
  }
  *hosts = h;
  return 0;
}

int nc_cache_put_config(nc_cache *c, const char *ns, const char *group, const char *data_id,
                        const char *content, const char *md5) {
  char path[4096];
  int rc = NC_ENOMEM;
  file_path(c, "config", ns, group, data_id, path, sizeof(path));
  cJSON *o = cJSON_CreateObject();
  if (!o || !cJSON_AddStringToObject(o, "namespace", ns) ||
      !cJSON_AddStringToObject(o, "group", group) ||
      !cJSON_AddStringToObject(o, "data_id", data_id) ||
      !cJSON_AddStringToObject(o, "content", content) || !cJSON_AddStringToObject(o, "md5", md5))
    goto out;
  rc = write_obj(c, path, o);
out:
  cJSON_Delete(o);
  return rc;
}

int nc_cache_get_config(nc_cache *c, const char *ns, const char *group, const char *data_id,
                        char **content, char md5[33]) {
  char path[4096];
  cJSON *o = NULL;
  file_path(c, "config", ns, group, data_id, path, sizeof(path));
  int rc = read_json(path, &o);
  if (rc)
    return rc == NC_EPARSE ? NC_ENOTFOUND : rc;
  cJSON *ct = cJSON_GetObjectItemCaseSensitive(o, "content");
  rc = NC_ENOTFOUND;
  if (cJSON_IsString(ct)) {
    *content = strdup(ct->valuestring);
    rc = *content ? 0 : NC_ENOMEM;
    if (!rc)
      nc_md5_hex(*content, strlen(*content), md5);
  }
  cJSON_Delete(o);
  return rc;
}

int nc_cache_del_config(nc_cache *c, const char *ns, const char *group, const char *data_id) {
  char path[4096];
  file_path(c, "config", ns, group, data_id, path, sizeof(path));
  if (unlink(path) != 0 && errno != ENOENT)
    return NC_EIO;
  return 0;
}

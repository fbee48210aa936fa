/* cluster_conf: see cluster_conf.h. */
#include "cluster_conf.h"

#include "nc_err.h"

#include <ctype.h>
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nc_cluster_list_free(nc_cluster_list *l) {
  if (!l)
    return;
  for (size_t i = 0; i < l->n; i++)
    free(l->addr[i]);
  free(l->addr);
  l->addr = NULL;
  l->n = 0;
}

int nc_cluster_list_has(const nc_cluster_list *l, const char *addr) {
  for (size_t i = 0; i < l->n; i++)
    if (strcmp(l->addr[i], addr) == 0)
      return 1;
  return 0;
}

static int parse_port(const char *s, int *port) {
  long v = 0;
  if (!*s || strlen(s) > 5)
    return NC_EINVAL;
  for (const char *p = s; *p; p++) {
    if (!isdigit((unsigned char)*p))
      return NC_EINVAL;
    v = v * 10 + (*p - '0');
  }
  if (v < 1 || v > 65535)
    return NC_EINVAL;
  *port = (int)v;
  return 0;
}

int nc_cluster_split_addr(const char *s, int default_port, char *host, size_t cap, int *port) {
  const char *colon;
  size_t hl;
  for (const char *p = s; *p; p++)
    if (isspace((unsigned char)*p))
      return NC_EINVAL;
  if (s[0] == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || rb == s + 1)
      return NC_EINVAL;
    hl = (size_t)(rb - s) + 1;
    if (rb[1] && rb[1] != ':')
      return NC_EINVAL;
    colon = rb[1] ? rb + 1 : NULL;
  } else {
    colon = strchr(s, ':');
    if (colon && strchr(colon + 1, ':'))
      return NC_EINVAL; /* a bare IPv6 address: Nacos wants [v6] */
    hl = colon ? (size_t)(colon - s) : strlen(s);
    if (strchr(s, '[') || strchr(s, ']'))
      return NC_EINVAL;
  }
  if (hl == 0 || hl >= cap)
    return NC_EINVAL;
  if (colon) {
    if (parse_port(colon + 1, port) != 0)
      return NC_EINVAL;
  } else {
    *port = default_port;
  }
  memcpy(host, s, hl);
  host[hl] = '\0';
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds one member entry (normalised to host:port; duplicates ignored). */
static int add_member(nc_cluster_list *l, const char *entry, int default_port) {
  char host[256], addr[300];
  int port;
  if (nc_cluster_split_addr(entry, default_port, host, sizeof(host), &port) != 0)
    return NC_EINVAL;
  snprintf(addr, sizeof(addr), "%s:%d", host, port);
  if (nc_cluster_list_has(l, addr))
    return 0;
  char **a = realloc(l->addr, (l->n + 1) * sizeof(*a));
  if (!a)
    return NC_ENOMEM;
  l->addr = a;
  if (!(a[l->n] = strdup(addr)))
    return NC_ENOMEM;
  l->n++;
  return 0;
}

static void trim(char **b, char **e) {
  while (*b < *e && isspace((unsigned char)**b))
    (*b)++;
  while (*e > *b && isspace((unsigned char)(*e)[-1]))
    (*e)--;
}

/* One trimmed, comment-free line of cluster.conf: a member, or several
 * split on ','. Java's split drops trailing empty elements only. */
static int parse_line(nc_cluster_list *l, char *line, int default_port, char *bad, size_t bcap) {
  char *end = line + strlen(line);
  while (end > line && end[-1] == ',')
    *--end = '\0';
  for (char *p = line;;) {
    char *comma = strchr(p, ',');
    if (comma)
      *comma = '\0';
    int rc = add_member(l, p, default_port);
    if (rc != 0) {
      snprintf(bad, bcap, "%s", p);
      return rc;
    }
    if (!comma)
      return 0;
    p = comma + 1;
  }
}

static int finish(nc_cluster_list *out, int rc, char *err, size_t errcap) {
  if (rc == 0 && out->n == 0) {
    snprintf(err, errcap, "the member list is empty");
    rc = NC_EINVAL;
  }
  if (rc != 0)
    nc_cluster_list_free(out);
  else
    qsort(out->addr, out->n, sizeof(*out->addr), cmp_str);
  return rc;
}

int nc_cluster_conf_parse(const char *text, int default_port, nc_cluster_list *out, char *err,
                          size_t errcap) {
  int rc = 0, lineno = 0;
  char *copy = strdup(text ? text : "");
  char bad[256];
  memset(out, 0, sizeof(*out));
  if (!copy)
    return NC_ENOMEM;
  for (char *p = copy, *nl; p && rc == 0; p = nl ? nl + 1 : NULL) {
    lineno++;
    nl = strchr(p, '\n');
    char *e = nl ? nl : p + strlen(p);
    if (e > p && e[-1] == '\r')
      e--;
    if (e == p)
      continue; /* a line of length 0 */
    trim(&p, &e);
    *e = '\0';
    if (*p == '#')
      continue;
    char *hash = strchr(p, '#');
    if (hash) {
      e = hash;
      trim(&p, &e);
      *e = '\0';
    }
    if ((rc = parse_line(out, p, default_port, bad, sizeof(bad))) != 0)
      snprintf(err, errcap, "line %d: bad member '%s' (want ip[:port] or [ipv6][:port])", lineno,
               bad);
  }
  free(copy);
  return finish(out, rc, err, errcap);
}

int nc_cluster_conf_read(const char *path, int default_port, nc_cluster_list *out, char *err,
                         size_t errcap) {
  memset(out, 0, sizeof(*out));
  FILE *f = fopen(path, "r");
  if (!f) {
    snprintf(err, errcap, "cannot open %s", path);
    return NC_EIO;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);
      if (!nb) {
        rc = NC_ENOMEM;
        break;
      }
      buf = nb;
    }
    size_t got = fread(buf + len, 1, cap - len - 1, f);
    len += got;
    if (got == 0)
      break;
  }
  if (ferror(f)) {
    snprintf(err, errcap, "cannot read %s", path);
    rc = NC_EIO;
  }
  fclose(f);
  if (rc == 0) {
    buf[len] = '\0';
    char e2[256] = "";
    rc = nc_cluster_conf_parse(buf, default_port, out, e2, sizeof(e2));
    if (rc)
      snprintf(err, errcap, "%s: %s", path, e2);
  }
  free(buf);
  return rc;
}

int nc_cluster_members_parse(const char *list, int default_port, nc_cluster_list *out,
                             char *err, size_t errcap) {
  int rc = 0;
  char *copy = strdup(list ? list : "");
  memset(out, 0, sizeof(*out));
  if (!copy)
    return NC_ENOMEM;
  for (char *p = copy, *comma; p && rc == 0; p = comma ? comma + 1 : NULL) {
    comma = strchr(p, ',');
    char *e = comma ? comma : p + strlen(p);
    trim(&p, &e);
    *e = '\0';
    if (!*p)
      continue;
    if ((rc = add_member(out, p, default_port)) != 0)
      snprintf(err, errcap, "--members: bad member '%s' (want ip[:port] or [ipv6][:port])", p);
  }
  free(copy);
  return finish(out, rc, err, errcap);
}

void nc_cluster_local_ip(char *buf, size_t cap) {
  struct ifaddrs *ifs = NULL, *best = NULL;
  unsigned best_idx = 0;
  snprintf(buf, cap, "127.0.0.1");
  if (getifaddrs(&ifs) != 0)
    return;
  for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
        (i->ifa_flags & IFF_LOOPBACK))
      continue;
    const struct sockaddr_in *sa = (const struct sockaddr_in *)(const void *)i->ifa_addr;
    if ((ntohl(sa->sin_addr.s_addr) >> 24) == 127)
      continue;
    unsigned idx = if_nametoindex(i->ifa_name);
    if (!best || idx < best_idx) {
      best = i;
      best_idx = idx;
    }
  }
  if (best) {
    const struct sockaddr_in *sa = (const struct sockaddr_in *)(const void *)best->ifa_addr;
    inet_ntop(AF_INET, &sa->sin_addr, buf, (socklen_t)cap);
  }
  freeifaddrs(ifs);
}

int nc_cluster_find_self(const nc_cluster_list *l, const char *advertise_ip, int main_port,
                         char *self, size_t cap, char *err, size_t errcap) {
  char ip[256];
  if (advertise_ip && *advertise_ip) {
    int v6 = strchr(advertise_ip, ':') && advertise_ip[0] != '[';
    snprintf(ip, sizeof(ip), v6 ? "[%s]" : "%s", advertise_ip);
  } else {
    nc_cluster_local_ip(ip, sizeof(ip));
  }
  snprintf(self, cap, "%s:%d", ip, main_port);
  if (nc_cluster_list_has(l, self))
    return 0;
  size_t off = 0;
  off += (size_t)snprintf(err, errcap, "this node's address %s (%s) is not in the member list (",
                          self, advertise_ip && *advertise_ip ? "--advertise-ip" : "found");
  for (size_t i = 0; i < l->n && off < errcap; i++)
    off += (size_t)snprintf(err + off, errcap - off, "%s%s", i ? ", " : "", l->addr[i]);
  if (off < errcap)
    snprintf(err + off, errcap - off, "); set --advertise-ip to the address the list names");
  return NC_EINVAL;
}

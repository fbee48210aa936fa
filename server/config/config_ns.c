/* config_ns: see config_ns.h. The store calls run as writer-thread jobs,
 * like config_read.c's history reads. */
#include "config_ns.h"

#include "config_int.h"
#include "config_util.h"
#include "nc_err.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

int nc_config_ns_is_default(const char *id) { return !*nc_cfg_norm_tenant(id); }

const char *nc_config_ns_check_id(const char *id, char *buf, size_t cap) {
  size_t n = strlen(id);
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '_' || c == '-')) {
      snprintf(buf, cap, "namespaceId [%.*s] mismatch the pattern", NC_CONFIG_NS_ID_MAX, id);
      return buf;
    }
  }
  if (!n) {
    snprintf(buf, cap, "namespaceId [] mismatch the pattern");
    return buf;
  }
  if (n > NC_CONFIG_NS_ID_MAX)
    return "too long namespaceId, over 128";
  return NULL;
}

const char *nc_config_ns_check_name(const char *name, char *buf, size_t cap) {
  if (strpbrk(name, "@#$%^&*") || !*name) {
    snprintf(buf, cap, "namespaceName [%.*s] contains illegal char", NC_CONFIG_NS_NAME_MAX, name);
    return buf;
  }
  if (strlen(name) > NC_CONFIG_NS_NAME_MAX)
    return "too long namespaceName, over 128";
  return NULL;
}

size_t nc_config_ns_configs(nc_config_service *cs, const char *id) {
  return nc_config_ns_count(cs, nc_cfg_norm_tenant(id));
}

/* ---- list ---- */

typedef struct ljob {
  nc_cfg_job job; /* first member */
  nc_config_ns_list_fn fn;
  void *ud;
  nc_cfg_ns *rows;
  size_t n;
  int rc;
} ljob;

static void ljob_run(nc_cfg_job *job, nc_cfg_store *store) {
  ljob *j = (ljob *)job;
  j->rc = nc_cfg_store_ns_list(store, &j->rows, &j->n);
}

static void ljob_release(nc_cfg_job *job) {
  ljob *j = (ljob *)job;
  j->fn(j->ud, NC_ECLOSED, "server is shutting down", NULL, 0);
  nc_cfg_ns_free(j->rows, j->n);
  free(j);
}

static const char *store_msg(int rc) {
  return rc == NC_EUNAVAIL ? "config store unavailable"
         : rc == NC_EINVAL ? "this config store does not keep namespaces"
                           : "namespace store failure";
}

static void ljob_complete(nc_cfg_job *job) {
  ljob *j = (ljob *)job;
  if (j->rc)
    j->fn(j->ud, j->rc == NC_EUNAVAIL ? NC_EUNAVAIL : NC_EDB, store_msg(j->rc), NULL, 0);
  else
    j->fn(j->ud, 0, NULL, j->rows, j->n);
  nc_cfg_ns_free(j->rows, j->n);
  free(j);
}

void nc_config_ns_list(nc_config_service *cs, nc_config_ns_list_fn fn, void *ud) {
  ljob *j = calloc(1, sizeof(*j));
  if (!j) {
    fn(ud, NC_ENOMEM, "out of memory", NULL, 0);
    return;
  }
  j->fn = fn;
  j->ud = ud;
  j->job.run = ljob_run;
  j->job.complete = ljob_complete;
  j->job.release = ljob_release;
  if (nc_cfg_writer_submit(cs->writer, &j->job) != 0)
    ljob_release(&j->job);
}

/* ---- write ---- */

typedef struct wjob {
  nc_cfg_job job; /* first member */
  nc_config_ns_done_fn done;
  void *ud;
  nc_cfg_ns_op op;
  char *id, *name, *desc;
  int64_t ts_ms;
  int rc;
} wjob;

static void wjob_free(wjob *j) {
  free(j->id);
  free(j->name);
  free(j->desc);
  free(j);
}

static void wjob_run(nc_cfg_job *job, nc_cfg_store *store) {
  wjob *j = (wjob *)job;
  j->rc = nc_cfg_store_ns_write(store, j->op, j->id, j->name, j->desc, j->ts_ms);
}

static void wjob_release(nc_cfg_job *job) {
  wjob *j = (wjob *)job;
  j->done(j->ud, NC_ECLOSED, "server is shutting down");
  wjob_free(j);
}

static void wjob_complete(nc_cfg_job *job) {
  wjob *j = (wjob *)job;
  char msg[NC_CONFIG_ERR_CAP];
  static const char *const what[] = {"", "create", "update", "delete"};
  int rc = j->rc;
  if (rc == NC_ENOTFOUND && j->op == NC_NS_DELETE)
    rc = 0; /* Nacos removes without looking first: true either way */
  if (rc == 0) {
    nc_info("config: namespace %s %s", what[j->op], NC_LOG_ESC(j->id));
    j->done(j->ud, 0, NULL);
  } else if (rc == NC_EEXISTS) {
    snprintf(msg, sizeof(msg), "namespaceId [%s] already exist", j->id);
    j->done(j->ud, rc, msg);
  } else if (rc == NC_ENOTFOUND) {
    snprintf(msg, sizeof(msg), "namespaceId [%s] not exist", j->id);
    j->done(j->ud, rc, msg);
  } else {
    nc_warn("config: namespace %s %s failed: %s", what[j->op], NC_LOG_ESC(j->id), nc_strerror(rc));
    j->done(j->ud, rc == NC_EUNAVAIL ? NC_EUNAVAIL : NC_EDB, store_msg(rc));
  }
  wjob_free(j);
}

static int64_t now_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

void nc_config_ns_write(nc_config_service *cs, nc_cfg_ns_op op, const char *id, const char *name,
                        const char *desc, nc_config_ns_done_fn done, void *ud) {
  char buf[NC_CONFIG_ERR_CAP];
  const char *err = NULL;
  id = id ? id : "";
  if (nc_config_ns_is_default(id)) {
    if (op == NC_NS_CREATE) {
      snprintf(buf, sizeof(buf), "namespaceId [%s] already exist", *id ? id : "public");
      done(ud, NC_EEXISTS, buf);
    } else {
      done(ud, NC_EINVAL, "the default namespace public cannot be changed or removed");
    }
    return;
  }
  if (op == NC_NS_DELETE) {
    name = desc = "";
  } else {
    name = name ? name : "";
    desc = desc ? desc : "";
    if ((op == NC_NS_CREATE && (err = nc_config_ns_check_id(id, buf, sizeof(buf)))) ||
        (err = nc_config_ns_check_name(name, buf, sizeof(buf))) ||
        (strlen(desc) > NC_CONFIG_NS_DESC_MAX && (err = "too long namespaceDesc, over 256"))) {
      done(ud, NC_EINVAL, err);
      return;
    }
  }
  wjob *j = calloc(1, sizeof(*j));
  if (j) {
    j->id = strdup(id);
    j->name = strdup(name);
    j->desc = strdup(desc);
  }
  if (!j || !j->id || !j->name || !j->desc) {
    if (j)
      wjob_free(j);
    done(ud, NC_ENOMEM, "out of memory");
    return;
  }
  j->done = done;
  j->ud = ud;
  j->op = op;
  j->ts_ms = now_ms();
  j->job.run = wjob_run;
  j->job.complete = wjob_complete;
  j->job.release = wjob_release;
  if (nc_cfg_writer_submit(cs->writer, &j->job) != 0)
    wjob_release(&j->job);
}

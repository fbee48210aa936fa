/* config_rollback: nc_config_rollback (config_ops.h) = read one history
 * version on the writer thread, then publish its content through the
 * normal publish path (validation, group commit, cache, listeners), marked
 * rollback_of so the store records what was restored.
 *
 * The read and the publish are two writer jobs: a write queued between them
 * lands first and the rollback then replaces it, as a publish sent at that
 * moment would. Loop thread only. */
#include "config_int.h"
#include "nc_err.h"
#include "nc_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The request, owned while the history read is queued. */
typedef struct rb_ctx {
  nc_config_service *cs;
  nc_config_done_fn done;
  void *ud;
  int64_t id;
  char *data_id, *group, *tenant, *app_name, *src_user, *src_ip, *origin;
} rb_ctx;

static void rb_free(rb_ctx *x) {
  char *s[] = {x->data_id, x->group, x->tenant, x->app_name, x->src_user, x->src_ip, x->origin};
  for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
    free(s[i]);
  free(x);
}

static void rb_fail(nc_config_done_fn done, void *ud, int code, const char *msg) {
  nc_config_result res = {.code = code, .message = msg};
  done(ud, &res);
}

/* NULL stays NULL (= the field's default); 0 or -1 on OOM. */
static int dup_opt(char **to, const char *s) {
  *to = s ? strdup(s) : NULL;
  return s && !*to ? -1 : 0;
}

/* Loop thread: the version was read; publish it. */
static void rb_have_row(void *ud, int code, const char *message, const nc_cfg_hist *row) {
  rb_ctx *x = ud;
  if (code) {
    rb_fail(x->done, x->ud, code, message);
    goto out;
  }
  if (!row->content) {
    rb_fail(x->done, x->ud, NC_EINVAL,
            "this history version has no recorded content (written before versions were kept)");
    goto out;
  }
  nc_info("config: conn %s: rollback %s/%s to history %lld (%c)",
          NC_LOG_ESC(x->origin ? x->origin : "-"), NC_LOG_ESC(x->group), NC_LOG_ESC(x->data_id),
          (long long)x->id, row->op);
  nc_config_publish p = {
      .key = {.data_id = x->data_id, .group = x->group, .tenant = x->tenant},
      .content = row->content,
      .type = row->type && *row->type ? row->type : NULL,
      .app_name = x->app_name,
      .src_user = x->src_user,
      .src_ip = x->src_ip,
      .origin = x->origin,
      .rollback_of = x->id,
  };
  /* Copies every string: x and row may go once it returns. */
  nc_config_publish_op(x->cs, &p, x->done, x->ud);
out:
  rb_free(x);
}

void nc_config_rollback(nc_config_service *cs, const nc_config_rollback_req *r,
                        nc_config_done_fn done, void *ud) {
  rb_ctx *x = calloc(1, sizeof(*x));
  if (!x || dup_opt(&x->data_id, r->key.data_id) || dup_opt(&x->group, r->key.group) ||
      dup_opt(&x->tenant, r->key.tenant) || dup_opt(&x->app_name, r->app_name) ||
      dup_opt(&x->src_user, r->src_user) || dup_opt(&x->src_ip, r->src_ip) ||
      dup_opt(&x->origin, r->origin)) {
    if (x)
      rb_free(x);
    rb_fail(done, ud, NC_ENOMEM, "out of memory");
    return;
  }
  x->cs = cs;
  x->done = done;
  x->ud = ud;
  x->id = r->id;
  nc_config_history_get(cs, &r->key, r->id, rb_have_row, x);
}

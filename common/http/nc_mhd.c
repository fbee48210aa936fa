/* nc_mhd: see internal/nc_mhd.h. */
#define NC_MHD_NO_MACROS /* the table only: symbols are looked up by name here */
#include "nc_mhd.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

nc_mhd_api nc_mhd;
nc_gnutls_api nc_gnutls;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_err[256];
static int loaded;

#define SYMIN(tab, err, soname, field, name)                                                        \
  do {                                                                                             \
    *(void **)(&tab.field) = dlsym(lib, name);                                                     \
    if (!tab.field) {                                                                              \
      snprintf(err, sizeof(err), "%s: symbol %s missing", soname, name);                           \
      return;                                                                                      \
    }                                                                                              \
  } while (0)
#define SYM(field, name) SYMIN(nc_mhd, load_err, NC_MHD_SONAME, field, name)

static void load(void) {
  /* Kept open for the life of the process (servers may start again). */
  void *lib = dlopen(NC_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    snprintf(load_err, sizeof(load_err), "%s", e ? e : NC_MHD_SONAME ": cannot be loaded");
    return;
  }
  SYM(start_daemon, "MHD_start_daemon");
  SYM(stop_daemon, "MHD_stop_daemon");
  SYM(run, "MHD_run");
  SYM(get_timeout, "MHD_get_timeout");
  SYM(get_daemon_info, "MHD_get_daemon_info");
  SYM(get_connection_info, "MHD_get_connection_info");
  SYM(lookup_connection_value, "MHD_lookup_connection_value");
  SYM(http_unescape, "MHD_http_unescape");
  SYM(create_response_from_buffer, "MHD_create_response_from_buffer");
  SYM(add_response_header, "MHD_add_response_header");
  SYM(destroy_response, "MHD_destroy_response");
  SYM(queue_response, "MHD_queue_response");
  SYM(suspend_connection, "MHD_suspend_connection");
  SYM(resume_connection, "MHD_resume_connection");
  loaded = 1;
}

int nc_mhd_load(char *err, size_t cap) {
  pthread_once(&once, load);
  if (loaded)
    return 0;
  if (err && cap)
    snprintf(err, cap, "%s", load_err);
  return -1;
}

static pthread_once_t gt_once = PTHREAD_ONCE_INIT;
static char gt_err[256];
static int gt_loaded;

static void gt_load(void) {
  /* MHD links this soname, so after nc_mhd_load it is already mapped and
   * this only takes a reference (kept for the life of the process). */
  void *lib = dlopen(NC_GNUTLS_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    snprintf(gt_err, sizeof(gt_err), "%s", e ? e : NC_GNUTLS_SONAME ": cannot be loaded");
    return;
  }
  SYMIN(nc_gnutls, gt_err, NC_GNUTLS_SONAME, certificate_verify_peers,
        "gnutls_certificate_verify_peers");
  SYMIN(nc_gnutls, gt_err, NC_GNUTLS_SONAME, strerror, "gnutls_strerror");
  gt_loaded = 1;
}

int nc_gnutls_load(char *err, size_t cap) {
  pthread_once(&gt_once, gt_load);
  if (gt_loaded)
    return 0;
  if (err && cap)
    snprintf(err, cap, "%s", gt_err);
  return -1;
}

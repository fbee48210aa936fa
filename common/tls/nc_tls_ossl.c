/* nc_tls_ossl: see nc_tls_ossl.h. */
#define NC_TLS_OSSL_NO_MACROS /* the table only: symbols are looked up by name here */
#include "nc_tls_ossl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

nc_tls_ossl_api nc_tls_ossl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_err[256];
static int loaded;

static void load(void) {
  /* Kept open for the life of the process (contexts may be made again). */
  void *lib = dlopen(NC_TLS_OSSL_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *e = dlerror();
    snprintf(load_err, sizeof(load_err), "%s", e ? e : NC_TLS_OSSL_SONAME ": cannot be loaded");
    return;
  }
#define NC_TLS_OSSL_SYM(f)                                                                         \
  *(void **)(&nc_tls_ossl.f) = dlsym(lib, #f);                                                     \
  if (!nc_tls_ossl.f) {                                                                            \
    snprintf(load_err, sizeof(load_err), "%s: symbol %s missing", NC_TLS_OSSL_SONAME, #f);         \
    return;                                                                                        \
  }
  NC_TLS_OSSL_FUNCS(NC_TLS_OSSL_SYM)
#undef NC_TLS_OSSL_SYM
  loaded = 1;
}

int nc_tls_ossl_load(char *err, size_t cap) {
  pthread_once(&once, load);
  if (loaded)
    return 0;
  if (err && cap)
    snprintf(err, cap, "%s", load_err);
  return -1;
}

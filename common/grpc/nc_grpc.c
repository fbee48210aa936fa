#include "nc_grpc.h"
#include "nc_log.h"

#include <dlfcn.h>
#include <grpc/grpc.h>
#include <stdlib.h>
#include <string.h>

/* absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle) in bookworm's
 * abseil (inline namespace debian3); kIgnore == 0. */
#if defined(__SANITIZE_THREAD__)
/* Built into every TSan binary that uses gRPC (they all call nc_grpc_init,
 * which pulls this object in), so plain `ctest` works without TSAN_OPTIONS;
 * same list as tests/tsan.supp (the system gRPC and abseil are
 * uninstrumented). Weak, so a program can still supply its own. */
__attribute__((weak)) const char *__tsan_default_suppressions(void);
__attribute__((weak)) const char *__tsan_default_suppressions(void) {
  return "race:libgrpc.so\nrace:libgpr.so\nrace:libabsl_*\nrace:libstdc++.so\nrace:libupb.so\n"
         "called_from_lib:libgrpc.so\ncalled_from_lib:libgpr.so\ndeadlock:libgrpc.so\n";
}
/* Accesses made from the uninstrumented libraries are ignored up front:
 * the same races as the suppressions above, but without symbolising each
 * one (that made a nacosd with 1,000 connections take >5 s to stop). */
__attribute__((weak)) const char *__tsan_default_options(void);
__attribute__((weak)) const char *__tsan_default_options(void) {
  return "ignore_noninstrumented_modules=1";
}
#endif

#define NC_ABSL_DEADLOCK_SYM "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE"

void nc_grpc_init(void) {
  const char *keep = getenv("NC_GRPC_DEADLOCK_DETECTION");
  if (keep && strcmp(keep, "1") == 0) {
    nc_info("grpc: abseil deadlock detection left on (NC_GRPC_DEADLOCK_DETECTION=1)");
  } else {
    void (*set_mode)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, NC_ABSL_DEADLOCK_SYM);
    if (set_mode) {
      set_mode(0);
      nc_debug("grpc: abseil deadlock detection off");
    } else {
      nc_warn("grpc: abseil deadlock switch not found; gRPC will be slower under load");
    }
  }
  grpc_init();
}

void nc_grpc_shutdown(void) { grpc_shutdown(); }

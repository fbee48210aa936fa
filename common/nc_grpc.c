#include "nc_grpc.h"
#include "nc_log.h"

#include <dlfcn.h>
#include <grpc/grpc.h>
#include <stdlib.h>
#include <string.h>

/* absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle) in bookworm's
 * abseil (inline namespace debian3); kIgnore == 0. */
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

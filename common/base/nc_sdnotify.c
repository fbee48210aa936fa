#include "nc_sdnotify.h"
#include "nc_err.h"
#include "nc_log.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int nc_sdnotify(const char *state) {
  const char *path = getenv("NOTIFY_SOCKET");
  if (!path || !path[0])
    return 0;
  struct sockaddr_un sa = {0};
  size_t len = strlen(path);
  if (len >= sizeof(sa.sun_path)) {
    nc_warn("sd_notify: NOTIFY_SOCKET path too long");
    return NC_EIO;
  }
  sa.sun_family = AF_UNIX;
  memcpy(sa.sun_path, path, len);
  if (sa.sun_path[0] == '@')
    sa.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return NC_EIO;
  int rc = 0;
  if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0) {
    nc_warn("sd_notify to %s failed", path);
    rc = NC_EIO;
  }
  close(fd);
  return rc;
}

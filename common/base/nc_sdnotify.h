/* nc_sdnotify: systemd's readiness protocol without libsystemd. Sends one
 * datagram (e.g. "READY=1") to the socket named by $NOTIFY_SOCKET ('@'
 * prefix = abstract namespace). A no-op when the variable is unset, so
 * daemons call it unconditionally once they serve. */
#ifndef NC_SDNOTIFY_H
#define NC_SDNOTIFY_H

/* Returns 0 when sent or not under systemd, NC_EIO when sending failed. */
int nc_sdnotify(const char *state);

#endif

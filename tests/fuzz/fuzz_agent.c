/* fuzz_agent: nacos-agent's local socket protocol and ops: the line framing
 * (nc_linebuf in nc_ipc_srv), request parsing and op dispatch (agent.c) and
 * every op handler (naming.*, config.*, agent.*), with their desired-state
 * bookkeeping, cache reads and owner cleanup when the app goes.
 *
 * The agent is agent_fixture.h's (disconnected upstream). Each input is the
 * byte stream of one app: a client connects to the socket, sends the input,
 * reads until nothing more comes, and leaves; every line the agent sends
 * back must be a JSON object that is a reply or an event, and the agent
 * must have dropped the client and everything it held afterwards. */
#include "agent_fixture.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  fxa_start();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char resp[65536];
  size_t got = 0;
  fxa_session(data, size, resp, sizeof(resp), &got);
  return 0;
}

#!/usr/bin/env bash
# Installs dependencies, builds (Release) and runs a standalone nacosd with
# embedded SQLite storage plus a nacos-agent, both in the foreground. Auth is
# on: the admin (user nacos) gets a random password on the first run, kept
# in $NACOS_HOME/admin.password (0600); the agent logs in with it.
# Ctrl-C stops both. Env: NACOS_PORT (8848), NACOS_HOME (./run), BUILD_DIR.
# Writes $NACOS_HOME/env: `. run/env` in another shell puts nacosctl on
# PATH and points it (NACOS_AGENT_SOCKET) at this agent's socket.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
BUILD=${BUILD_DIR:-build}
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DNC_BUILD_TESTS=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

PORT=${NACOS_PORT:-8848}
HOME_DIR=${NACOS_HOME:-$PWD/run}
mkdir -p "$HOME_DIR/data" "$HOME_DIR/cache"
HOME_DIR=$(cd "$HOME_DIR" && pwd)
BIN_DIR="$(cd "$BUILD" && pwd)/ipc"
SOCK="$HOME_DIR/agent.sock"
PWFILE="$HOME_DIR/admin.password"
if [ ! -s "$PWFILE" ]; then
  (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$PWFILE")
fi
chmod 600 "$PWFILE"
printf '%s\n' "# written by scripts/run.sh; source it: . $HOME_DIR/env" \
  "export PATH=\"$BIN_DIR:\$PATH\"" \
  "export NACOS_AGENT_SOCKET=\"$SOCK\"" >"$HOME_DIR/env"

"$BUILD/server/nacosd" --port "$PORT" --data-dir "$HOME_DIR/data" --admin-password-file "$PWFILE" &
SERVER=$!
trap 'kill $SERVER ${AGENT:-} 2>/dev/null; wait' INT TERM EXIT
# The agent retries with back-off until the server listens, so no wait here.
"$BUILD/agent/nacos-agent" --servers "127.0.0.1:$PORT" --socket "$SOCK" --cache-dir "$HOME_DIR/cache" \
  --username nacos --password-file "$PWFILE" &
AGENT=$!
echo "nacosd: gRPC for SDKs on $((PORT + 1000)), peers on $((PORT + 1001)); data in $HOME_DIR/data" >&2
echo "nacos-agent: socket $SOCK" >&2
echo "nacosctl: in another shell run  . $HOME_DIR/env  (PATH gets $BIN_DIR," >&2
echo "  NACOS_AGENT_SOCKET=$SOCK), then: nacosctl status" >&2
echo "login: user nacos, password in $PWFILE, e.g." >&2
echo "  curl -X POST 127.0.0.1:$PORT/nacos/v1/auth/login -d username=nacos -d password=\$(cat $PWFILE)" >&2
wait -n $SERVER $AGENT

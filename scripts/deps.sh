#!/usr/bin/env bash
# Installs the Debian packages nacos-c builds and tests with, when missing.
# Usage: scripts/deps.sh   (as root, or with sudo available)
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
      libuv1-dev libcjson-dev libcmocka-dev libsqlite3-dev
      libpq-dev libmicrohttpd-dev libnghttp2-dev procps systemd
      libsodium-dev   # Argon2id password hashes and HMAC-SHA256 tokens (server/auth)
      iproute2   # iproute2: test_server_keepalive's network namespace + veth
      openssl curl   # test_server_http: a test certificate and an HTTPS client
      libssl-dev   # TLS on the gRPC ports (server relay) and from the agent (common/tls)
      chromium chromium-driver   # the web console's browser tests (headless, WebDriver)
      clang libclang-rt-14-dev   # scripts/fuzz.sh: libFuzzer + ASan/UBSan runtimes (clang 14)
      postgresql-15)  # initdb/postgres for tests/support/nc_testpg (the tests
                      # start their own servers; the system cluster is unused)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "deps: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "deps: all present" >&2
fi

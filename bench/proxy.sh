#!/usr/bin/env bash
# The proxy and TLS benchmarks of `make bench-proxy`: installs wrk and nginx (Debian)
# and Caddy (Go module proxy) if missing, builds the binaries, then runs
# bench/proxybench (HTTP proxying vs upstream, Caddy, nginx) and
# bench/tlsbench (TLS handshakes vs Caddy), which print comparison tables.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/bench
mkdir -p "$BIN"
if ! command -v wrk >/dev/null || ! { command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; }; then
	apt-get update -qq && apt-get install -y -qq wrk nginx-light >/dev/null
fi
if [ ! -x "$BIN/caddy" ]; then
	echo "building Caddy v2.11.9 (a few minutes, once)"
	GOBIN="$PWD/$BIN" go install github.com/caddyserver/caddy/v2/cmd/caddy@v2.11.9
fi
go build -o "$BIN/" ./cmd/edge ./bench/upstream ./bench/seed ./bench/proxybench ./bench/tlsbench
"$BIN/proxybench" -bin "$BIN" "$@"
# The TLS client runs on CPU 1; the servers pin themselves to CPU 0.
taskset -c 1 "$BIN/tlsbench" -bin "$BIN"

#!/usr/bin/env bash
# The instruction counts of `make bench-instr`: installs valgrind (Debian)
# if missing, builds the binaries, then runs bench/instrbench, which
# counts the edge's user-space instructions per request under callgrind
# for the tenants the proxy benchmark compares. Figures do not depend on
# the machine's load; a run takes about three minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=bin/bench
mkdir -p "$BIN"
if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
	apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi
go build -o "$BIN/" ./cmd/edge ./bench/upstream ./bench/seed ./bench/instrbench
"$BIN/instrbench" -bin "$BIN" -redis "$@"

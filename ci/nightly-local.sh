#!/usr/bin/env bash
# Runs the nightly job on this machine: build once, run SHARDS shards as local processes with
# one seed, merge them into one report. Usage:
#   ci/nightly-local.sh [--shards N] [--filter EXPR] [--out DIR] [--history DIR] [--seed S]
set -euo pipefail
cd "$(dirname "$0")/.."

shards=2 filter="" out="target/nightly" history="" seed=""
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) shards="$2"; shift 2 ;;
    --filter) filter="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --history) history="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
seed="${seed:-$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')}"
export RESILIENCE_REVISION="${RESILIENCE_REVISION:-$(git describe --always --dirty 2>/dev/null || echo unknown)}"

cargo build --release -q -p harness
bin="target/release/resilience"
rm -rf "$out"
mkdir -p "$out"
echo "nightly-local: $shards shard(s), seed $seed, revision $RESILIENCE_REVISION, outputs in $out"

pids=()
for k in $(seq 1 "$shards"); do
  args=(run --seed "$seed" --shard "$k/$shards" --out "$out/shard-$k")
  [ -n "$filter" ] && args+=(--filter "$filter")
  "$bin" "${args[@]}" >"$out/shard-$k.log" 2>&1 &
  pids+=($!)
done
for k in "${!pids[@]}"; do
  wait "${pids[$k]}" || echo "nightly-local: shard $((k + 1)) exited with $? (see $out/shard-$((k + 1)).log)"
done

merge=(report merge)
for k in $(seq 1 "$shards"); do merge+=("$out/shard-$k"); done
merge+=(--out "$out/merged")
[ -n "$history" ] && merge+=(--history "$history")
"$bin" "${merge[@]}"

#!/usr/bin/env bash
# The nightly workflow (.github/workflows/nightly.yml) on this machine: build once, run SHARDS
# shards as local processes with one base seed, merge them into one report. With
# --time-budget each shard explores (the `explore` subcommand: the default set, then fresh
# seeds until the budget is spent); without it each shard runs the default set once (`run`).
# Usage:
#   ci/nightly-local.sh [--shards N] [--time-budget DURATION] [--filter EXPR] [--out DIR]
#                       [--history DIR] [--seed S]
set -euo pipefail
cd "$(dirname "$0")/.."

shards=2 filter="" out="target/nightly" history="" seed="" budget=""
while [ $# -gt 0 ]; do
  case "$1" in
    --shards) shards="$2"; shift 2 ;;
    --time-budget) budget="$2"; shift 2 ;;
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
echo "nightly-local: $shards shard(s), seed $seed, ${budget:+explore for $budget, }revision $RESILIENCE_REVISION, outputs in $out"

pids=()
for k in $(seq 1 "$shards"); do
  if [ -n "$budget" ]; then
    args=(explore --time-budget "$budget" --seed "$seed" --shard "$k/$shards" --out "$out/shard-$k")
    [ -n "$history" ] && args+=(--history "$history/signatures.txt")
  else
    args=(run --seed "$seed" --shard "$k/$shards" --out "$out/shard-$k")
  fi
  [ -n "$filter" ] && args+=(--filter "$filter")
  "$bin" "${args[@]}" >"$out/shard-$k.log" 2>&1 &
  pids+=($!)
done
failed=0
for k in "${!pids[@]}"; do
  if ! wait "${pids[$k]}"; then
    echo "nightly-local: shard $((k + 1)) failed (see $out/shard-$((k + 1)).log)"
    failed=1
  fi
done

merge=(report merge)
for k in $(seq 1 "$shards"); do merge+=("$out/shard-$k"); done
merge+=(--out "$out/merged")
[ -n "$history" ] && merge+=(--history "$history")
"$bin" "${merge[@]}"
if [ -f "$out/merged/job-summary.md" ]; then cat "$out/merged/job-summary.md"; fi
exit "$failed"

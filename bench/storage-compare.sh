#!/bin/sh
# Before/after figures of the storage change, at full size, both trees one after the other,
# every JSON line (each with its load average) appended to $OUT (default ./storage-compare.jsonl):
#   1. bench/serve-fsync.mjs   fsyncs and write-opens per payment, 1 user, serve mint on SQLite
#   2. bench/store-growth.ts   one payment in an empty store vs one with 100,000 other contracts
#   3. bench/pg-scale.ts       serve mint ×1/×2 on PostgreSQL (before: host and process epochs)
# Usage: sh bench/storage-compare.sh BEFORE_TREE AFTER_TREE   (each built: npm run build)
# Run from the after tree (tsx is resolved from the working directory). Quiet machine wanted:
# `uptime` first; each figure carries the load average anyway.
set -eu
before=${1:?before tree}
after=${2:?after tree}
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-storage-compare.jsonl}
for tree in "$before" "$after"; do
  node "$here/serve-fsync.mjs" --tree "$tree" --payments ${FSYNC_PAYMENTS:-300} --runs ${FSYNC_RUNS:-3} | tee -a "$out"
done
for tree in "$before" "$after"; do
  node --import tsx "$here/store-growth.ts" --tree "$tree" --contracts ${GROWTH_CONTRACTS:-100000} --working 200 --rounds ${GROWTH_ROUNDS:-7} --commit-every 1,256 | tee -a "$out"
done
for tree in "$before" "$after"; do
  node --import tsx "$here/pg-scale.ts" --tree "$tree" --processes 1,2 --contracts 32 --payments ${PG_PAYMENTS:-40} --runs ${PG_RUNS:-3} ${PG_STATS:+--pg-stats} | tee -a "$out"
done
echo "storage-compare: figures appended to $out" >&2

#!/usr/bin/env bash
# Drive capacity, closed loop: memaslap (libmemcached-tools' `memcaslap`) versus
# ringcache-loadgen, each alone on core 1, against one memcached thread on core 0, with the
# same connections and the same mix (90% gets, 10% sets, 32-byte keys, 100-byte values).
# Runs alternate back to back, ROUNDS times. Usage: drive_capacity.sh [SECONDS] [ROUNDS] [CONNS]
set -euo pipefail
secs=${1:-20}
rounds=${2:-3}
conns=${3:-32}
here=$(cd "$(dirname "$0")" && pwd)
loadgen=${LOADGEN:-$here/../../target/release/ringcache-loadgen}
port=${PORT:-23499}
work=$(mktemp -d)
trap 'kill "$mc_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

cat > "$work/memaslap.cfg" <<CFG
key
32 32 1
value
100 100 1
cmd
0 0.1
1 0.9
CFG

taskset -c 0 memcached -u nobody -t 1 -m 1024 -p "$port" -l 127.0.0.1 -U 0 &
mc_pid=$!
sleep 1
for round in $(seq "$rounds"); do
  uptime
  memaslap_tps=$(taskset -c 1 memcaslap -s "127.0.0.1:$port" -F "$work/memaslap.cfg" -c "$conns" -T 1 -t "${secs}s" 2>&1 |
    awk '/^Run time/ { for (i = 1; i <= NF; i++) if ($i == "TPS:") print $(i + 1) }')
  taskset -c 1 "$loadgen" --server "127.0.0.1:$port" --threads 1 --connections "$conns" \
    --key-size 32 --value-size 100 --get-ratio 0.9 --keys 100000 --warmup 2s \
    --duration "${secs}s" --quiet --output-json "$work/lg.json" > /dev/null 2>&1
  loadgen_tps=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['throughput_ops_per_sec']))" "$work/lg.json")
  echo "round $round: memaslap ${memaslap_tps} ops/s, ringcache-loadgen ${loadgen_tps} ops/s," \
    "ratio $(python3 -c "print(f'{$loadgen_tps / $memaslap_tps:.2f}')")"
done

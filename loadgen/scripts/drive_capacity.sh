#!/usr/bin/env bash
# Drive capacity, closed loop: memaslap (libmemcached-tools' `memcaslap`) versus
# ringcache-loadgen, each alone on core 1, against one memcached thread on core 0, with the
# same connections and the same mix (90% gets, 10% sets, 32-byte keys, 100-byte values).
# Runs alternate back to back, ROUNDS times. memaslap gets only keys it has set, so the loadgen
# prefills its keys (not timed) and its gets hit too. CPU times (user + system) are measured as
# well; the loadgen's include its prefill, which only lowers its ops per CPU-second.
# Usage: drive_capacity.sh [SECONDS] [ROUNDS] [CONNS]
set -euo pipefail
secs=${1:-20}
rounds=${2:-3}
conns=${3:-32}
here=$(cd "$(dirname "$0")" && pwd)
loadgen=${LOADGEN:-$here/../../target/release/ringcache-loadgen}
port=${PORT:-23499}
# On a shared machine, NICE=-10 gives the server and both tools the same head start over other
# work (equal for both tools, so the ratio stays fair).
nice=${NICE:-0}
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

nice -n "$nice" taskset -c 0 memcached -u nobody -t 1 -m 1024 -p "$port" -l 127.0.0.1 -U 0 &
mc_pid=$!
sleep 1
# CPU seconds (user + system) each tool used, to compare work per operation too.
cpu_of() { awk '/^cpu/ { print $2 + $3 }' "$1"; }
for round in $(seq "$rounds"); do
  uptime
  memaslap_tps=$(/usr/bin/time -f 'cpu %U %S' -o "$work/ms.time" \
    nice -n "$nice" taskset -c 1 memcaslap -s "127.0.0.1:$port" -F "$work/memaslap.cfg" -c "$conns" -T 1 -t "${secs}s" 2>&1 |
    awk '/^Run time/ { for (i = 1; i <= NF; i++) if ($i == "TPS:") print $(i + 1) }')
  /usr/bin/time -f 'cpu %U %S' -o "$work/lg.time" \
    nice -n "$nice" taskset -c 1 "$loadgen" --server "127.0.0.1:$port" --threads 1 --connections "$conns" \
    --key-size 32 --value-size 100 --get-ratio 0.9 --keys 100000 --warmup 0s \
    --duration "${secs}s" --quiet --output-json "$work/lg.json" > /dev/null 2>&1
  loadgen_tps=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['throughput_ops_per_sec']))" "$work/lg.json")
  ms_cpu=$(cpu_of "$work/ms.time")
  lg_cpu=$(cpu_of "$work/lg.time")
  python3 - "$round" "$memaslap_tps" "$ms_cpu" "$loadgen_tps" "$lg_cpu" "$secs" <<'PY'
import sys
r, ms, ms_cpu, lg, lg_cpu, secs = sys.argv[1], *map(float, sys.argv[2:])
print(f"round {r}: memaslap {ms:.0f} ops/s ({ms * secs / ms_cpu:.0f} ops per CPU-second), "
      f"ringcache-loadgen {lg:.0f} ops/s ({lg * secs / lg_cpu:.0f} ops per CPU-second), "
      f"throughput ratio loadgen/memaslap {lg / ms:.2f}")
PY
done

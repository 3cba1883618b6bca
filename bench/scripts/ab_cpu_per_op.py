#!/usr/bin/env python3
"""Server CPU per op for several server binaries, interleaved, on one workload: how a lever is
measured before it is kept (perf-compare is the full side-by-side with memcached).

Usage: ab_cpu_per_op.py [--rounds N] [--seconds S] [--loadgen ARGS] NAME=COMMAND ...

COMMAND is the server's command line with {port} where its port goes, e.g.
  base="/work/bins/ringcache-base -l 127.0.0.1 -p {port} -t 1 --cpus 0"
  mc="memcached -u nobody -l 127.0.0.1 -p {port} -t 1"
Every server runs pinned to core 0, the loadgen on core 1, closed loop unless --loadgen says
otherwise; each round runs every server once, in turn, on a fresh process. CPU time is
utime + stime from /proc/PID/stat over the measured window (after a warm-up); ops are the
loadgen's measured ops. Prints per round and the median per server, and each server's median
against the first one's.
"""
import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import HZ, LOADGEN, cpu_ticks, free_port, start_server, stop

DEFAULT_LOAD = ("--threads 1 --connections 32 --key-size 32 --value-size 100 --get-ratio 0.9 "
                "--keys 100000")


def one(command, load, seconds, warmup):
    port = free_port()
    server = start_server(command, port)
    try:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            driver = subprocess.Popen(
                ["taskset", "-c", "1", LOADGEN, "--server", f"127.0.0.1:{port}", "--quiet",
                 "--warmup", f"{warmup}s", "--duration", f"{seconds}s", "--output-json", out.name]
                + shlex.split(load),
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            # The prefill and warm-up come first; sample CPU over the measured window only.
            time.sleep(warmup + 0.6)
            t0, c0 = time.time(), cpu_ticks(server.pid)
            time.sleep(seconds - 0.4)
            t1, c1 = time.time(), cpu_ticks(server.pid)
            _, err = driver.communicate()
            if driver.returncode != 0:
                sys.exit(f"loadgen failed: {err.decode()[-500:]}")
            result = json.load(open(out.name))
        ops_per_s = result["throughput_ops_per_sec"]
        cpu_s = (c1 - c0) / HZ
        wall_s = t1 - t0
        return {"ops_per_s": ops_per_s, "us_per_op": cpu_s / (ops_per_s * wall_s) * 1e6,
                "util": cpu_s / wall_s, "p999": result["latency_us"]["p999"]}
    finally:
        stop(server)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--loadgen", default=DEFAULT_LOAD)
    ap.add_argument("servers", nargs="+", metavar="NAME=COMMAND")
    args = ap.parse_args()
    servers = [s.split("=", 1) for s in args.servers]
    print(f"# loadgen {args.loadgen}; {args.rounds} rounds of {args.seconds}s; load average "
          + open("/proc/loadavg").read().split()[0])
    results = {name: [] for name, _ in servers}
    for r in range(args.rounds):
        for name, command in servers:
            res = one(command, args.loadgen, args.seconds, args.warmup)
            results[name].append(res)
            print(f"round {r + 1} {name:12} {res['ops_per_s']:9.0f} ops/s  {res['us_per_op']:6.2f} "
                  f"us/op  ({res['util'] * 100:3.0f}% of core 0)  p99.9 {res['p999']} us", flush=True)
    first = servers[0][0]
    base = statistics.median(x["us_per_op"] for x in results[first])
    for name, _ in servers:
        med = statistics.median(x["us_per_op"] for x in results[name])
        ops = statistics.median(x["ops_per_s"] for x in results[name])
        print(f"median {name:12} {ops:9.0f} ops/s  {med:6.2f} us/op  ({med / base:4.2f}x {first})")


if __name__ == "__main__":
    main()

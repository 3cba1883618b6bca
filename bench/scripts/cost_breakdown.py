#!/usr/bin/env python3
"""Where each server's CPU time per operation goes, side by side: the profile behind
perf-compare's CPU ratio, and the floor that ratio cannot go below.

Usage: cost_breakdown.py [--driver memaslap|loadgen] [--rate OPS] [--seconds S] [--rounds N]
                         NAME=COMMAND ...

COMMAND is a server command line with {port} where its port goes, e.g.
  rc="target/release/ringcache -l 127.0.0.1 -p {port} -t 1"
  mc="memcached -u nobody -l 127.0.0.1 -p {port} -t 1"
Each server runs pinned to core 0, the driver (90/10 get/set, 32-byte keys, 100-byte values,
32 connections, closed loop, or open loop at --rate with the loadgen) on core 1. Per server and round: one window measures CPU per op
(utime + stime from /proc over ops counted by the server's own `stats`) with nothing attached;
a second window samples the server's stacks (`perf record -e cpu-clock -g`). Each sample goes
to the first category below that one of its frames belongs to, and a category's share of the
samples times the unprofiled CPU per op is its µs per op.

The first three categories are the kernel's TCP work that any server answering the same
requests over loopback pays (the peer's receive runs inside our send: loopback delivers in
the sender's softirq, and tick-based accounting charges it to us). Their sum is the floor:
a server that spent nothing else would still cost that much per op. The rest is what a server
design changes: system calls, io_uring, epoll, sleeping and waking, user space.
"""
import argparse
import collections
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import HZ, LOADGEN, cpu_ticks, free_port, served_ops, start_server, stop

# (category, frame-name prefixes); the first category with a matching frame takes the sample.
CATEGORIES = [
    ("peer's receive (loopback softirq in our send)", ("net_rx_action",)),
    ("TCP send", ("tcp_sendmsg",)),
    ("TCP receive copy", ("tcp_recvmsg",)),
    ("sleep and wake-up", ("__schedule",)),
    ("epoll", ("do_epoll_wait", "ep_poll", "do_epoll_ctl")),
    ("io_uring", ("io_", "__io_", "__do_sys_io_uring_enter")),
    ("syscall entry and other kernel", ()),
    ("user space", ()),
]
FLOOR = CATEGORIES[:3]

MEMASLAP_CONFIG = "key\n32 32 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n"


def start_driver(driver, port, seconds, config_path, rate=None):
    if driver == "memaslap":
        argv = ["memcaslap", "-s", f"127.0.0.1:{port}", "-F", config_path, "-T", "1",
                "-c", "32", "-w", "3k", "-t", f"{int(seconds)}s"]
    else:
        argv = [LOADGEN, "--server", f"127.0.0.1:{port}", "--quiet", "--connections", "32",
                "--key-size", "32", "--value-size", "100", "--get-ratio", "0.9",
                "--keys", "100000", "--warmup", "1s", "--duration", f"{int(seconds)}s"]
        if rate:
            argv += ["--rate", str(rate)]
    return subprocess.Popen(["taskset", "-c", "1"] + argv,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def cpu_per_op(pid, port, seconds):
    c0, o0 = cpu_ticks(pid), served_ops(port)
    time.sleep(seconds)
    c1, o1 = cpu_ticks(pid), served_ops(port)
    return (c1 - c0) / HZ / (o1 - o0) * 1e6


def stacks(perf_data):
    """Each sample's frames as (symbol, is_kernel), innermost first."""
    text = subprocess.run(["perf", "script", "-i", perf_data, "-F", "ip,sym,dso"],
                          capture_output=True, text=True, check=True).stdout
    for block in text.split("\n\n"):
        frames = []
        for line in block.strip().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                frames.append((parts[1].split("+")[0], parts[-1] == "([kernel.kallsyms])"))
        if frames:
            yield frames


def categorize(frames):
    for name, prefixes in CATEGORIES:
        if prefixes and any(sym.startswith(prefixes) for sym, _ in frames):
            return name
    return CATEGORIES[-2][0] if frames[0][1] else CATEGORIES[-1][0]


def one(command, driver, seconds, config_path, rate):
    port = free_port()
    server = start_server(command, port)
    window = seconds / 2 - 1
    try:
        load = start_driver(driver, port, seconds + 2, config_path, rate)
        time.sleep(2)
        us_per_op = cpu_per_op(server.pid, port, window)
        with tempfile.NamedTemporaryFile(suffix=".perf") as data:
            subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-g", "-p", str(server.pid),
                            "-o", data.name, "--", "sleep", str(window)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            load.wait()
            counts = collections.Counter(categorize(f) for f in stacks(data.name))
    finally:
        stop(server)
    total = sum(counts.values())
    return us_per_op, {name: counts[name] / total * us_per_op for name, _ in CATEGORIES}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", choices=["memaslap", "loadgen"], default="memaslap")
    ap.add_argument("--seconds", type=float, default=14)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--rate", type=int, help="loadgen only: open loop at this many ops/s "
                    "(below saturation both servers sleep and wake between batches)")
    ap.add_argument("servers", nargs="+", metavar="NAME=COMMAND")
    args = ap.parse_args()
    if args.rate and args.driver != "loadgen":
        ap.error("--rate needs --driver loadgen: memaslap has no open loop")
    servers = [s.split("=", 1) for s in args.servers]
    with tempfile.NamedTemporaryFile("w", suffix=".cfg", delete=False) as cfg:
        cfg.write(MEMASLAP_CONFIG)
    results = {name: [] for name, _ in servers}
    try:
        for _ in range(args.rounds):
            for name, command in servers:
                results[name].append(one(command, args.driver, args.seconds, cfg.name, args.rate))
    finally:
        os.unlink(cfg.name)
    names = [name for name, _ in servers]
    med = {n: statistics.median(r[0] for r in results[n]) for n in names}
    cat = {n: {c: statistics.median(r[1][c] for r in results[n]) for c, _ in CATEGORIES}
           for n in names}
    loop = f"open loop at {args.rate} ops/s" if args.rate else "closed loop"
    print(f"# driver {args.driver}, 90/10 {loop}, 32 connections; {args.rounds} round(s), "
          f"medians; µs of server CPU per op")
    print("| category | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for c, _ in CATEGORIES:
        print(f"| {c} | " + " | ".join(f"{cat[n][c]:.2f}" for n in names) + " |")
    floor = {n: sum(cat[n][c] for c, _ in FLOOR) for n in names}
    print("| **floor: the first three** | " + " | ".join(f"{floor[n]:.2f}" for n in names) + " |")
    print("| **the server's own: the rest** | "
          + " | ".join(f"{med[n] - floor[n]:.2f}" for n in names) + " |")
    print("| **total (unprofiled CPU per op)** | " + " | ".join(f"{med[n]:.2f}" for n in names)
          + " |")
    if len(names) > 1:
        a, b = names[0], names[1]
        print(f"\n{a}/{b} CPU per op {med[a] / med[b]:.2f}; at the floor alone "
              f"{floor[a] / med[b]:.2f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

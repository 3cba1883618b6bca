#!/usr/bin/env python3
"""Drive capacity, closed loop: memaslap (libmemcached-tools' `memcaslap`) versus
ringcache-loadgen, each alone on core 1, against one memcached thread on core 0.

Like for like: the same connections (memaslap's --concurrency, one socket each), one request
outstanding per connection (memaslap does not pipeline; the loadgen runs --pipeline 1), 90%
gets and 10% sets, 32-byte keys, 100-byte values, every get a hit (memaslap only gets keys it
has set during its run; the loadgen sets its 100 000 keys just before its window). Each
window gets a fresh memcached: the items a run leaves behind (how many, how old, where in the
LRU) change memcached's cost per op for the next one.

Both tools are measured the same way, at the server: memcached's own cmd_get + cmd_set over a
window of SECONDS that starts once the tool's load is flowing (so start-up, memaslap's 10 MB
tables and the loadgen's prefill are outside it). Per window: ops/s; CPU per op of memcached
and of the tool (utime + stime from /proc; the loadgen's includes its polling, see
--poll-us); the share of the window memcached's worker thread slept for want of requests
(its schedstat: neither running nor waiting for a CPU); and how much of each core other
processes took ("other"). Rounds in which other processes took more than QUIET of a core
during any tool's window are also summarized apart: on a shared machine they compare the
neighbours more than the tools. Rounds alternate which tool goes first.

usage: drive_capacity.py [SECONDS] [ROUNDS] [CONNS]
env:   LOADGEN   the loadgen binary (default: target/release/ringcache-loadgen)
       LOADGEN_B a second loadgen binary, run as a third driver (A/B of two builds)
       LOADGEN_ARGS, LOADGEN_B_ARGS extra flags for each, e.g. "--poll-us 0"
       PORT (23499), QUIET (0.05)
"""
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SECS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
CONNS = int(sys.argv[3]) if len(sys.argv) > 3 else 32
PORT = int(os.environ.get("PORT", "23499"))
QUIET = float(os.environ.get("QUIET", "0.05"))
LOADGEN = os.environ.get("LOADGEN", os.path.join(HERE, "../../target/release/ringcache-loadgen"))
LOADGEN_B = os.environ.get("LOADGEN_B")
LOADGEN_ARGS = shlex.split(os.environ.get("LOADGEN_ARGS", ""))
LOADGEN_B_ARGS = shlex.split(os.environ.get("LOADGEN_B_ARGS", ""))
HZ = os.sysconf("SC_CLK_TCK")
MEMASLAP_CFG = "key\n32 32 1\nvalue\n100 100 1\ncmd\n0 0.1\n1 0.9\n"


def server_stats(sock):
    sock.sendall(b"stats\r\n")
    buf = b""
    while not buf.endswith(b"END\r\n"):
        buf += sock.recv(65536)
    return {p[1]: p[2] for p in (l.split() for l in buf.decode().splitlines())
            if len(p) == 3 and p[0] == "STAT"}


def ops_of(stats):
    return int(stats["cmd_get"]) + int(stats["cmd_set"])


def cpu_ticks(pid):
    """utime + stime of every thread of `pid`."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def worker_schedstat(pid):
    """(ns on CPU, ns waiting for a CPU) of memcached's worker thread."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().strip() == "mc-worker":
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    run_ns, wait_ns, _ = map(int, f.read().split())
                return run_ns, wait_ns
    raise RuntimeError("memcached has no mc-worker thread")


def core_busy_ticks():
    """Busy ticks (all but idle and iowait) per CPU."""
    busy = []
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                v = list(map(int, line.split()[1:]))
                busy.append(sum(v) - v[3] - v[4])
    return busy


def uptime():
    with open("/proc/loadavg") as f:
        return "load average " + " ".join(f.read().split()[:3])


def main():
    # A SIGTERM unwinds like an exception, so the `finally` blocks stop memcached and the tool.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    cfg = f"/tmp/drive_capacity.{os.getpid()}.cfg"
    with open(cfg, "w") as f:
        f.write(MEMASLAP_CFG)
    try:
        workload = ["--server", f"127.0.0.1:{PORT}", "--threads", "1", "--connections", str(CONNS),
                    "--pipeline", "1", "--key-size", "32", "--value-size", "100", "--get-ratio", "0.9",
                    "--keys", "100000", "--quiet"]
        run_secs = SECS + 5
        # (name, command, the loadgen's prefill or None)
        drivers = [("memaslap", ["memcaslap", "-s", f"127.0.0.1:{PORT}", "-F", cfg, "-c", str(CONNS),
                                 "-T", "1", "-t", f"{run_secs}s"], None)]
        for name, binary, extra in (("loadgen", LOADGEN, LOADGEN_ARGS),
                                    ("loadgen_b", LOADGEN_B, LOADGEN_B_ARGS)):
            if binary:
                drivers.append((name, [binary, *workload, "--no-prefill", "--warmup", "0s",
                                       "--duration", f"{run_secs}s", *extra],
                                [binary, *workload, "--warmup", "0s", "--duration", "10ms"]))
        print(f"# {CONNS} connections, {SECS} s windows, {ROUNDS} rounds; a fresh memcached -t 1 on "
              f"core 0 for each window, each tool alone on core 1; {uptime()}")
        for name, cmd, _ in drivers:
            print(f"# {name}: {' '.join(cmd)}")
        results = {name: [] for name, _, _ in drivers}
        for r in range(ROUNDS):
            order = drivers if r % 2 == 0 else drivers[::-1]
            for name, cmd, prefill in order:
                res = measure(cmd, prefill)
                results[name].append(res)
                print(f"round {r + 1} {name:9s} {res['ops_s']:7.0f} ops/s  memcached {res['srv_us']:5.2f} us/op "
                      f"({res['srv_util'] * 100:3.0f}% of core 0, asleep {res['srv_asleep'] * 100:2.0f}%)  "
                      f"tool {res['cli_us']:5.2f} us/op ({res['cli_util'] * 100:3.0f}% of core 1)  "
                      f"other {res['other0'] * 100:2.0f}% / {res['other1'] * 100:2.0f}%  "
                      f"get hits {res['hit'] * 100:5.1f}%", flush=True)
        summarize(results)
    finally:
        os.unlink(cfg)


def measure(cmd, prefill):
    """One window of `cmd` against a fresh memcached, so no tool inherits the other's items
    (their number, age and LRU positions change memcached's cost per op). The loadgen sets
    every key just before (memaslap's gets only ask for keys it set during its run)."""
    mc = subprocess.Popen(["taskset", "-c", "0", "memcached", "-u", "nobody", "-t", "1",
                           "-m", "1024", "-p", str(PORT), "-l", "127.0.0.1", "-U", "0"])
    try:
        sock = None
        for _ in range(50):
            try:
                sock = socket.create_connection(("127.0.0.1", PORT))
                break
            except ConnectionRefusedError:
                time.sleep(0.1)
        if prefill:
            subprocess.run(["taskset", "-c", "1", *prefill], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        tool = subprocess.Popen(["taskset", "-c", "1", *cmd], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            return measure_tool(sock, mc.pid, tool)
        finally:
            tool.terminate()
            tool.wait()
            sock.close()
    finally:
        mc.terminate()
        mc.wait()


def measure_tool(sock, mc_pid, tool):
    # The window starts once the load flows (> 1000 ops in 100 ms), plus half a second.
    start = time.time()
    last = ops_of(server_stats(sock))
    while time.time() - start < 5:
        time.sleep(0.1)
        now = ops_of(server_stats(sock))
        if now - last > 1000:
            break
        last = now
    time.sleep(0.5)
    s0, m0, c0, b0, w0 = server_stats(sock), cpu_ticks(mc_pid), cpu_ticks(tool.pid), core_busy_ticks(), time.time()
    q0 = worker_schedstat(mc_pid)
    time.sleep(SECS)
    s1, m1, c1, b1, w1 = server_stats(sock), cpu_ticks(mc_pid), cpu_ticks(tool.pid), core_busy_ticks(), time.time()
    q1 = worker_schedstat(mc_pid)
    ops = ops_of(s1) - ops_of(s0)  # `stats` itself counts as no get
    gets = int(s1["cmd_get"]) - int(s0["cmd_get"])
    wall = w1 - w0
    return dict(ops_s=ops / wall,
                srv_us=(m1 - m0) / HZ / ops * 1e6, srv_util=(m1 - m0) / HZ / wall,
                cli_us=(c1 - c0) / HZ / ops * 1e6, cli_util=(c1 - c0) / HZ / wall,
                other0=max(0, (b1[0] - b0[0]) - (m1 - m0)) / HZ / wall,
                other1=max(0, (b1[1] - b0[1]) - (c1 - c0)) / HZ / wall,
                hit=(int(s1["get_hits"]) - int(s0["get_hits"])) / max(gets, 1),
                # memcached's worker thread neither running nor runnable: waiting for requests.
                srv_asleep=max(0.0, 1 - ((q1[0] - q0[0]) + (q1[1] - q0[1])) / 1e9 / wall))


def summarize(results):
    names = list(results)
    rounds = len(results["memaslap"])
    quiet = [i for i in range(rounds)
             if all(max(results[n][i]["other0"], results[n][i]["other1"]) <= QUIET for n in names)]
    for label, idx in (("all rounds", list(range(rounds))), (f"quiet rounds (other <= {QUIET:.0%})", quiet)):
        if not idx:
            print(f"{label}: none")
            continue
        print(f"{label}: {len(idx)}")
        for n in names:
            med = lambda k: statistics.median(results[n][i][k] for i in idx)
            print(f"  median {n:9s} {med('ops_s'):7.0f} ops/s  memcached {med('srv_us'):5.2f} us/op, "
                  f"asleep {med('srv_asleep') * 100:2.0f}%  tool {med('cli_us'):5.2f} us/op")
        for n in names[1:]:
            ratios = [results[n][i]["ops_s"] / results["memaslap"][i]["ops_s"] for i in idx]
            print(f"  {n}/memaslap per round: {' '.join(f'{x:.2f}' for x in ratios)}  "
                  f"median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()

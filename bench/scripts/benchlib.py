"""Helpers the bench scripts share: ports, server processes, CPU time and op counts."""
import os
import shlex
import socket
import subprocess
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
LOADGEN = os.path.join(ROOT, "target", "release", "ringcache-loadgen")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    """utime + stime of every thread of `pid`, in clock ticks."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total


def wait_port(port, deadline_s=5.0):
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"server on port {port} did not start")


def start_server(command, port, cpu=0):
    """`command` with {port} filled in, pinned to `cpu`; returns once it accepts."""
    server = subprocess.Popen(["taskset", "-c", str(cpu)] + shlex.split(command.format(port=port)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return server


def stop(process):
    process.terminate()
    process.wait()


def served_ops(port):
    """cmd_get + cmd_set from the server's `stats` (the same counters in both servers)."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(b"stats\r\n")
        reply = b""
        while not reply.endswith(b"END\r\n"):
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("the server closed during stats")
            reply += chunk
    stats = {}
    for line in reply.decode().split("\r\n"):
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT":
            stats[parts[1]] = parts[2]
    return int(stats["cmd_get"]) + int(stats["cmd_set"])

"""End-to-end tests of ringcache with pymemcache's classic (meta-free) text-protocol API.

The server address comes from RINGCACHE_ADDR=host:port (set by tests/tests/client_python.rs,
which starts the server). Every test starts from an empty cache.
"""

import os
import socket

import pytest
from pymemcache.client.base import Client
from pymemcache.exceptions import MemcacheClientError, MemcacheServerError

ADDR = os.environ.get("RINGCACHE_ADDR")
ITEM_SIZE_MAX_BYTES = 1024 * 1024


def _server():
    if not ADDR:
        pytest.fail("RINGCACHE_ADDR is not set: run through `cargo test --test client_python`")
    host, port = ADDR.rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def client():
    c = Client(_server(), connect_timeout=5, timeout=10, default_noreply=False)
    c.flush_all()
    yield c
    c.close()


@pytest.fixture
def noreply_client():
    c = Client(_server(), connect_timeout=5, timeout=10, default_noreply=True)
    yield c
    c.close()


def test_set_get_delete(client):
    assert client.set("k", b"v") is True
    assert client.get("k") == b"v"
    assert client.get("missing") is None
    assert client.get("missing", default=b"d") == b"d"
    assert client.delete("k") is True
    assert client.delete("k") is False
    assert client.get("k") is None


def test_add_replace_append_prepend(client):
    assert client.add("k", b"1") is True
    assert client.add("k", b"2") is False
    assert client.replace("k", b"3") is True
    assert client.replace("missing", b"3") is False
    assert client.append("k", b"-end") is True
    assert client.prepend("k", b"start-") is True
    assert client.get("k") == b"start-3-end"
    assert client.append("missing", b"x") is False
    assert client.prepend("missing", b"x") is False
    assert client.get("missing") is None


def test_flags_round_trip(client):
    client.set("k", b"v", flags=4294967295)
    value, flags = client.get("k", return_flags=True) if _supports_return_flags() else (None, None)
    if value is not None:
        assert (value, flags) == (b"v", 4294967295)
    # Raw check independent of the pymemcache version (raw_command strips the end token).
    reply = client.raw_command(b"get k", b"END\r\n")
    assert reply == b"VALUE k 4294967295 1\r\nv\r\n"


def _supports_return_flags():
    import inspect

    return "return_flags" in inspect.signature(Client.get).parameters


def test_set_many_get_many(client):
    values = {f"key{i}": f"value{i}".encode() for i in range(100)}
    assert client.set_many(values) == []
    got = client.get_many(list(values) + ["missing"])
    assert got == values
    assert client.delete_many(list(values)[:50]) is True
    got = client.get_many(list(values))
    assert sorted(got) == sorted(list(values)[50:])


def test_gets_cas(client):
    assert client.cas("k", b"x", b"1") is None  # NOT_FOUND
    client.set("k", b"one")
    value, cas = client.gets("k")
    assert value == b"one"
    assert client.cas("k", b"two", cas) is True
    assert client.cas("k", b"three", cas) is False  # EXISTS: stale unique
    value2, cas2 = client.gets("k")
    assert value2 == b"two"
    assert cas2 != cas
    got = client.gets_many(["k", "missing"])
    assert got == {"k": (b"two", cas2)}


def test_incr_decr(client):
    assert client.incr("n", 1) is None
    client.set("n", b"10")
    assert client.incr("n", 5) == 15
    assert client.decr("n", 3) == 12
    assert client.decr("n", 100) == 0
    client.set("n", b"18446744073709551615")
    assert client.incr("n", 2) == 1
    client.set("text", b"abc")
    with pytest.raises(MemcacheClientError):
        client.incr("text", 1)


def test_touch_and_gat(client):
    client.set("k", b"v")
    assert client.touch("k", 1000) is True
    assert client.touch("missing", 1000) is False
    assert client.get("k") == b"v"
    # gat/gats through the raw API (pymemcache has no gat method).
    assert client.raw_command(b"gat 1000 k", b"END\r\n") == b"VALUE k 0 1\r\nv\r\n"
    reply = client.raw_command(b"gats 0 k missing", b"END\r\n")
    assert reply.startswith(b"VALUE k 0 1 ") and reply.endswith(b"\r\nv\r\n")
    # A past absolute exptime expires at once.
    assert client.touch("k", 1000000000) is True
    assert client.get("k") is None


def test_expire_absolute_past(client):
    client.set("k", b"v", expire=1000000000)
    assert client.get("k") is None


def test_flush_all(client):
    client.set_many({"a": b"1", "b": b"2"})
    assert client.flush_all() is True
    assert client.get_many(["a", "b"]) == {}


def test_noreply_mode(noreply_client, client):
    c = noreply_client
    assert c.set("k", b"v") is True
    assert c.add("k", b"x") is True  # noreply: always True
    assert c.replace("k", b"r") is True
    assert c.append("k", b"a") is True
    assert c.prepend("k", b"p") is True
    # incr/decr take noreply per call (their default is False).
    assert c.incr("k2", 1, noreply=True) is None
    c.set("n", b"5")
    assert c.incr("n", 1, noreply=True) is None
    assert c.decr("n", 2, noreply=True) is None
    assert c.touch("k", 1000) is True
    # Everything above was applied, in order, on the same connection.
    assert c.get("k") == b"pra"
    assert c.get("n") == b"4"
    assert c.delete("k") is True
    assert c.get("k") is None
    c.flush_all()
    # A reply on the same connection comes after the noreply flush_all took effect
    # everywhere; only then is another connection sure to see it (as on memcached).
    assert c.get("n") is None
    assert client.get("n") is None


def test_large_and_binary_values(client):
    binary = bytes(range(256)) + b"\r\nEND\r\n"
    client.set("bin", binary)
    assert client.get("bin") == binary
    client.set("empty", b"")
    assert client.get("empty") == b""
    big = bytes(i % 251 for i in range(ITEM_SIZE_MAX_BYTES - 4096))
    assert client.set("big", big) is True
    assert client.get("big") == big
    with pytest.raises(MemcacheServerError):
        client.set("huge", b"x" * (ITEM_SIZE_MAX_BYTES + 1))
    assert client.get("huge") is None
    assert client.get("empty") == b""


def test_long_keys(client):
    key = "k" * 250
    client.set(key, b"v")
    assert client.get(key) == b"v"
    with pytest.raises(MemcacheClientError):
        client.set("k" * 251, b"v")


def test_version_and_stats(client):
    version = client.version()
    assert version
    stats = client.stats()
    assert b"curr_items" in stats or "curr_items" in stats
    for key in ("cmd_get", "get_hits", "get_misses", "curr_connections"):
        assert key.encode() in stats or key in stats, key


def test_stats_count_hits_and_misses(client):
    def stat(name):
        s = client.stats()
        return int(s.get(name.encode(), s.get(name, 0)))

    hits, misses = stat("get_hits"), stat("get_misses")
    client.set("k", b"v")
    client.get("k")
    client.get("missing")
    assert stat("get_hits") == hits + 1
    assert stat("get_misses") == misses + 1


def test_many_connections(client):
    # Replies on: a noreply set on one connection is not ordered with a get on another
    # (on memcached either; with shards the window is wider), so wait for STORED.
    clients = [
        Client(_server(), connect_timeout=5, timeout=10, default_noreply=False)
        for _ in range(20)
    ]
    try:
        for i, c in enumerate(clients):
            c.set(f"c{i}", str(i).encode())
        for i, c in enumerate(clients):
            assert clients[(i + 1) % 20].get(f"c{i}") == str(i).encode()
    finally:
        for c in clients:
            c.close()


def test_quit_closes_connection():
    host, port = _server()
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"set k 0 0 1\r\nx\r\nquit\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        assert data == b"STORED\r\n"

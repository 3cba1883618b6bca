//! An in-process server on a free port, shared by the runtime test files.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use ringcache_net::config::ServerConfig;
use ringcache_net::runtime::Server;

/// Starts `shard_count` shards on 127.0.0.1:0 with `memory_limit_mib` of `-m`.
pub fn start(shard_count: u32, conn_limit: u32, memory_limit_mib: usize) -> (Server, SocketAddr) {
    start_with(&config(shard_count, conn_limit, memory_limit_mib))
}

/// Starts a server with `config` (see [`config`]).
pub fn start_with(config: &ServerConfig) -> (Server, SocketAddr) {
    let server = Server::start(config).expect("server starts");
    let addr = SocketAddr::from(([127, 0, 0, 1], server.ports[0]));
    (server, addr)
}

/// The configuration [`start`] uses: 127.0.0.1:0, every usable CPU, memcached's defaults.
pub fn config(shard_count: u32, conn_limit: u32, memory_limit_mib: usize) -> ServerConfig {
    ServerConfig {
        listen_addrs: vec!["127.0.0.1:0".parse().unwrap()],
        memory_limit_bytes: memory_limit_mib << 20,
        conn_limit,
        shard_count,
        cpus: ringcache_net::runtime::cpu::allowed_cpus().unwrap(),
        item_size_max_bytes: 1 << 20,
        evict_when_full: true,
        cas_enabled: true,
        verbosity: 0,
        metrics_port: None,
        listen_backlog_count: ringcache_net::config::LISTEN_BACKLOG_DEFAULT,
        coredumps_enabled: false,
    }
}

/// A client socket with `io_timeout` on reads and writes, Nagle off.
pub fn connect(addr: SocketAddr, io_timeout: Duration) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(io_timeout)).unwrap();
    stream.set_write_timeout(Some(io_timeout)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

//! `ringcache`: the server binary. Reads its configuration (flags, `RINGCACHE_*`, `--config`),
//! starts the shards, serves.

use ringcache_net::config;
use ringcache_net::runtime::Server;

fn main() {
    let config = config::load_or_exit();
    for warning in config.warnings() {
        eprintln!("ringcache: warning: {warning}");
    }
    let server = match Server::start(&config) {
        Ok(server) => server,
        Err(message) => fail(&message),
    };
    if config.verbosity > 0 {
        let addrs: Vec<String> = config
            .listen_addrs
            .iter()
            .map(ToString::to_string)
            .collect();
        eprintln!(
            "ringcache {} listening on {} ({} shard(s), {} MB, up to {} connections)",
            ringcache_net::VERSION,
            addrs.join(", "),
            config.shard_count,
            config.memory_limit_bytes >> 20,
            config.conn_limit
        );
    }
    if let Err(message) = server.wait() {
        fail(&message);
    }
}

fn fail(message: &str) -> ! {
    eprintln!("ringcache: {message}");
    std::process::exit(1);
}

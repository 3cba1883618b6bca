//! `ringcache`: the server binary. Parses memcached's flags, starts the shards, serves.

use clap::Parser;
use ringcache_net::config::Args;
use ringcache_net::runtime::Server;

fn main() {
    let args = Args::parse();
    if args.version {
        println!(
            "ringcache {} (memcached 1.6.18 text protocol)",
            ringcache_net::PACKAGE_VERSION
        );
        return;
    }
    let config = match args.to_config() {
        Ok(config) => config,
        Err(message) => fail(&message),
    };
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
    // Until SIGTERM/SIGINT (drain, then exit 0) or a shard's failure; tells systemd.
    if let Err(message) = ringcache_net::service::run(server, &config) {
        fail(&message);
    }
}

fn fail(message: &str) -> ! {
    eprintln!("ringcache: {message}");
    std::process::exit(1);
}

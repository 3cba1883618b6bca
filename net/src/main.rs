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
        let status =
            ringcache_net::service::listening_status(&config, &server.ports, server.metrics_port);
        eprintln!("ringcache {} {status}", ringcache_net::VERSION);
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

//! One run: connect, start the pinned workers, show the live line, gather the statistics.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::cli::Args;
use crate::conn::Conn;
use crate::encode::KeyOwners;
use crate::ketama::{Continuum, ServerName};
use crate::live::Live;
use crate::schedule::Source;
use crate::stats::Stats;
use crate::worker::{Snapshot, Worker, WorkerConfig};
use crate::workload::keys::{write_key, KeySampler};
use crate::workload::values::ValuePattern;
use crate::workload::OpMix;

/// Most keys whose owner is precomputed for a fleet (2 bytes each).
pub const FLEET_KEYS_MAX: u64 = 100_000_000;
/// Read buffer per connection at least; more for large multi-get replies.
const INBUF_LEN_MIN_BYTES: usize = 64 * 1024;
/// `VALUE <key> <flags> <bytes>\r\n` and `\r\n` around a value, generously.
const VALUE_HEADER_LEN_MAX_BYTES: usize = 300 + 2;
/// Requests outstanding per connection during the prefill (at least `--pipeline`).
const PREFILL_PIPELINE_DEPTH: usize = 16;
/// Snapshots in flight from the workers to the main thread.
const SNAPSHOTS_IN_FLIGHT_MAX: usize = 1024;

/// The servers, resolved, and who owns which key.
pub struct Fleet {
    pub names: Vec<ServerName>,
    pub addrs: Vec<SocketAddr>,
    pub server_of_key: Option<Arc<[u16]>>,
}

impl Fleet {
    pub fn resolve(args: &Args) -> Result<Fleet, String> {
        let mut names = Vec::new();
        let mut addrs = Vec::new();
        for spec in &args.servers {
            let (host_port, weight) = match spec.matches(':').count() {
                2 => {
                    let (hp, w) = spec.rsplit_once(':').expect("two colons");
                    let weight = w.parse::<u32>().ok().filter(|&w| w > 0).ok_or_else(|| {
                        format!("--server {spec}: weight must be a positive integer")
                    })?;
                    (hp, weight)
                }
                _ => (spec.as_str(), 1),
            };
            let (host, port) = host_port
                .rsplit_once(':')
                .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
                .ok_or_else(|| format!("--server {spec}: expected HOST:PORT[:WEIGHT]"))?;
            let addr = (host, port)
                .to_socket_addrs()
                .map_err(|e| format!("--server {spec}: cannot resolve: {e}"))?
                .next()
                .ok_or_else(|| format!("--server {spec}: no address"))?;
            names.push(ServerName {
                host: host.to_string(),
                port,
                weight,
            });
            addrs.push(addr);
        }
        let server_of_key = if names.len() > 1 {
            if args.key_count > FLEET_KEYS_MAX {
                return Err(format!("a fleet supports at most {FLEET_KEYS_MAX} --keys"));
            }
            let continuum = Continuum::new(&names);
            let mut key = vec![0u8; args.key_size_bytes];
            let table: Vec<u16> = (0..args.key_count)
                .map(|k| {
                    write_key(k, &mut key);
                    continuum.server_of(&key) as u16
                })
                .collect();
            Some(table.into())
        } else {
            None
        };
        Ok(Fleet {
            names,
            addrs,
            server_of_key,
        })
    }
}

/// What a run hands back.
pub struct RunOutcome {
    pub stats: Stats,
    /// Per-second statistics after the warmup: `(second since the run's start, stats)`.
    pub intervals: Vec<(u64, Stats)>,
    pub measured_secs: f64,
    pub rate_ops_per_sec: Option<f64>,
}

/// What the workers do in this run.
#[derive(Clone, Copy)]
pub enum Phase {
    Prefill,
    Measure { rate_ops_per_sec: Option<f64> },
}

fn cpus_allowed() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity writes at most
    // size_of::<cpu_set_t>() bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return vec![0];
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect()
    }
}

fn pin_to(cpu: usize) -> Result<(), String> {
    assert!(cpu < libc::CPU_SETSIZE as usize);
    // SAFETY: as above; the set is fully initialised before sched_setaffinity reads it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        return Err(format!(
            "cannot pin a worker to CPU {cpu}: {} (check --cpus against taskset/cgroup limits)",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    stream
        .set_nodelay(true)
        .and_then(|_| stream.set_nonblocking(true))
        .map_err(|e| format!("socket options on {addr}: {e}"))?;
    Ok(stream)
}

/// Runs one phase on all threads. `live` shows the per-second line.
pub fn run_phase(
    args: &Args,
    fleet: &Fleet,
    pattern: &Arc<ValuePattern>,
    phase: Phase,
    live: bool,
) -> Result<RunOutcome, String> {
    let threads = args.threads;
    let cpus = if args.cpus.is_empty() {
        cpus_allowed()
    } else {
        args.cpus.clone()
    };
    let multiget_keys = args.multiget_keys;
    let value_max = args.value_size.max_bytes;
    let set_len = ringcache_net::proto::client::set_len_max(args.key_size_bytes, value_max);
    let get_len = 5 + multiget_keys * (args.key_size_bytes + 1);
    let pipeline_depth = match phase {
        Phase::Prefill => args.pipeline_depth.max(PREFILL_PIPELINE_DEPTH),
        Phase::Measure { .. } => args.pipeline_depth,
    };
    let out_len = pipeline_depth * set_len.max(get_len);
    let reply_len =
        multiget_keys * (value_max + args.key_size_bytes + VALUE_HEADER_LEN_MAX_BYTES) + 16;
    // Room for a partial reply plus one provided receive buffer copied after it.
    let inbuf_len = INBUF_LEN_MIN_BYTES.max(2 * reply_len) + crate::worker::RECV_BUF_BYTES;
    let queue_len = pipeline_depth + args.backlog_max;

    let sizes = ConnSizes {
        queue_len,
        out_len,
        inbuf_len,
    };
    let per_thread = open_connections(args, fleet, &sizes)?;

    let (warmup_ns, end_ns) = match phase {
        Phase::Prefill => (0, u64::MAX),
        Phase::Measure { .. } => (
            args.warmup.as_nanos() as u64,
            (args.warmup + args.duration).as_nanos() as u64,
        ),
    };
    let (sender, receiver) = sync_channel::<Snapshot>(SNAPSHOTS_IN_FLIGHT_MAX);
    let start = Instant::now();
    let mut handles = Vec::new();
    for (t, conns) in per_thread.into_iter().enumerate() {
        let cpu = cpus[t % cpus.len()];
        let mut rng = StdRng::seed_from_u64(
            args.seed
                .wrapping_add(0x9E37_79B9_7F4A_7C15u64.wrapping_mul(t as u64 + 1)),
        );
        let source = match phase {
            Phase::Prefill => Source::Prefill {
                next: t as u64,
                step: threads as u64,
                end: args.key_count,
            },
            Phase::Measure {
                rate_ops_per_sec: Some(rate),
            } => Source::open(args.arrivals, rate / threads as f64, 0, end_ns, &mut rng),
            Phase::Measure {
                rate_ops_per_sec: None,
            } => Source::Closed { end_ns },
        };
        let cfg = WorkerConfig {
            start,
            measure_from_ns: warmup_ns,
            pipeline_depth,
            backlog_max: args.backlog_max,
            key_size_bytes: args.key_size_bytes,
            validate: args.validate,
            drain_timeout: args.drain_timeout,
            poll_ns: args.poll_us * 1000,
            pattern: Arc::clone(pattern),
            owners: KeyOwners {
                server_of_key: fleet.server_of_key.clone(),
            },
            mix: OpMix::new(args.get_ratio, multiget_keys, args.value_size),
            sampler: KeySampler::new(
                args.key_distribution,
                args.key_count,
                (args.key_count / threads as u64) * t as u64,
            ),
            rng,
            source,
            snapshots: matches!(phase, Phase::Measure { .. }).then(|| sender.clone()),
        };
        let server_count = fleet.addrs.len();
        let handle = thread::Builder::new()
            .name(format!("loadgen-{t}"))
            .spawn(move || -> Result<Stats, String> {
                pin_to(cpu)?;
                // Wake at the intended send time, not up to 50 us later (the default slack).
                // SAFETY: PR_SET_TIMERSLACK takes an integer and touches no memory of ours.
                unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
                let worker = Worker::new(cfg, conns, server_count).map_err(|e| e.to_string())?;
                worker.run().map_err(|e| format!("worker {t}: {e}"))
            })
            .map_err(|e| format!("cannot start a worker thread: {e}"))?;
        handles.push(handle);
    }
    drop(sender);

    let live_line = (live && matches!(phase, Phase::Measure { .. }))
        .then(|| Live::new((end_ns / 1_000_000_000).max(1), args.warmup.as_secs()));
    let intervals = gather(&receiver, threads, warmup_ns, live_line);
    let mut stats = Stats::new();
    for handle in handles {
        let worker_stats = handle
            .join()
            .map_err(|_| "a worker thread panicked".to_string())??;
        stats.add(&worker_stats);
    }
    let measured_secs = match phase {
        Phase::Prefill => start.elapsed().as_secs_f64(),
        Phase::Measure { .. } => args.duration.as_secs_f64(),
    };
    Ok(RunOutcome {
        stats,
        intervals,
        measured_secs,
        rate_ops_per_sec: match phase {
            Phase::Measure { rate_ops_per_sec } => rate_ops_per_sec,
            Phase::Prefill => None,
        },
    })
}

/// Buffer and queue sizes of every connection of a phase.
struct ConnSizes {
    queue_len: usize,
    out_len: usize,
    inbuf_len: usize,
}

/// Connection `i` of every server goes to thread `i % threads`.
fn open_connections(
    args: &Args,
    fleet: &Fleet,
    sizes: &ConnSizes,
) -> Result<Vec<Vec<Conn>>, String> {
    let mut per_thread: Vec<Vec<Conn>> = (0..args.threads).map(|_| Vec::new()).collect();
    for (server_index, &addr) in fleet.addrs.iter().enumerate() {
        for i in 0..args.connections {
            let stream = connect(addr)?;
            per_thread[i % args.threads].push(Conn::new(
                stream,
                server_index,
                sizes.queue_len,
                sizes.out_len,
                sizes.inbuf_len,
            ));
        }
    }
    Ok(per_thread)
}

/// Merges the workers' per-second snapshots until every worker is done; shows each second
/// once all threads reported it, and returns the seconds after the warmup.
fn gather(
    receiver: &Receiver<Snapshot>,
    threads: usize,
    warmup_ns: u64,
    mut live_line: Option<Live>,
) -> Vec<(u64, Stats)> {
    let mut pending: BTreeMap<u64, (usize, Stats)> = BTreeMap::new();
    let mut intervals = Vec::new();
    loop {
        match receiver.recv_timeout(Duration::from_millis(200)) {
            Ok(snapshot) => {
                let entry = pending
                    .entry(snapshot.tick)
                    .or_insert_with(|| (0, Stats::new()));
                entry.0 += 1;
                entry.1.add(&snapshot.stats);
                while let Some(first) = pending.first_entry() {
                    if first.get().0 < threads {
                        break;
                    }
                    let (tick, (_, stats)) = first.remove_entry();
                    if let Some(live) = &mut live_line {
                        live.second(tick, &stats);
                    }
                    if tick * 1_000_000_000 > warmup_ns {
                        intervals.push((tick, stats));
                    }
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    if let Some(live) = live_line {
        live.finish();
    }
    intervals
}

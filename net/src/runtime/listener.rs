//! Listening sockets. Each shard opens its own socket on every listen address with
//! `SO_REUSEPORT`, so the kernel spreads new connections over the shards; these calls run once
//! at start-up, never on the data path.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd};

use super::port_holder::{self, Holder};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn set_int_option(
    fd: libc::c_int,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` lives for the call and its size is passed alongside its address.
    let ret = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    check(ret).map(drop)
}

/// Opens, binds and listens on `addr` with SO_REUSEADDR, SO_REUSEPORT and TCP_NODELAY (which
/// accepted sockets inherit), queueing up to `backlog_count` connections (`-b`; the kernel caps
/// it at net.core.somaxconn).
pub fn listen(addr: SocketAddr, backlog_count: u32) -> io::Result<OwnedFd> {
    open(addr, Some(backlog_count))
}

/// Fails with `EADDRINUSE` if anything else listens on `addr`: a socket without SO_REUSEPORT
/// cannot bind next to any listener, so another ringcache on the same port (whose
/// SO_REUSEPORT sockets ours would otherwise silently join) is caught too.
pub fn probe(addr: SocketAddr) -> io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    open(addr, None).map(drop)
}

/// One listening socket per shard on every address (the same port for all shards, also when
/// `-p 0` lets the kernel choose it): `[shard][address]`, and the ports bound.
pub fn open_all(
    addrs: &[SocketAddr],
    shard_count: usize,
    backlog_count: u32,
) -> Result<(Vec<Vec<OwnedFd>>, Vec<u16>), String> {
    let mut per_shard: Vec<Vec<OwnedFd>> = (0..shard_count).map(|_| Vec::new()).collect();
    let mut ports = Vec::with_capacity(addrs.len());
    for &addr in addrs {
        probe(addr).map_err(|e| explain(addr, &e))?;
        let mut bound = addr;
        for fds in per_shard.iter_mut() {
            let fd = listen(bound, backlog_count).map_err(|e| explain(bound, &e))?;
            if bound.port() == 0 {
                bound.set_port(local_port(&fd).map_err(|e| format!("getsockname: {e}"))?);
            }
            fds.push(fd);
        }
        ports.push(bound.port());
    }
    Ok((per_shard, ports))
}

/// A listen error as the operator's fix.
fn explain(addr: SocketAddr, e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EADDRINUSE) => in_use(addr, &port_holder::holders_of(addr.port())),
        Some(libc::EADDRNOTAVAIL) => {
            format!("cannot listen on {addr}: no such local address (check -l)")
        }
        Some(libc::EACCES) => format!(
            "cannot listen on {addr}: permission denied (ports below 1024 need \
             CAP_NET_BIND_SERVICE)"
        ),
        _ => format!("cannot listen on {addr}: {e}"),
    }
}

/// "Port in use", naming the processes that listen on it when /proc shows them.
pub fn in_use(addr: SocketAddr, holders: &[Holder]) -> String {
    let port = addr.port();
    let who = match holders {
        [] => {
            format!("by a process this user cannot see (find it with: ss -ltnp 'sport = :{port}')")
        }
        _ => {
            let names: Vec<String> = holders
                .iter()
                .map(|h| format!("{} (pid {})", h.command, h.pid))
                .collect();
            format!("by {}", names.join(", "))
        }
    };
    format!(
        "cannot listen on {addr}: the port is in use {who}: stop it, or give ringcache another \
         port (-p, or host:port in -l)"
    )
}

/// A socket bound to `addr`; listening with `backlog_count` and SO_REUSEPORT if given, else
/// only bound (the probe).
fn open(addr: SocketAddr, backlog_count: Option<u32>) -> io::Result<OwnedFd> {
    let reuse_port = backlog_count.is_some();
    let family = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = check(unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `raw` is a socket we just opened and own exclusively.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if reuse_port {
        set_int_option(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    }
    set_int_option(raw, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
    set_int_option(raw, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
    if addr.is_ipv6() {
        set_int_option(raw, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
    }
    let (storage, len) = sockaddr_of(addr);
    // SAFETY: `storage` holds a valid sockaddr of `len` bytes for the socket's family.
    check(unsafe { libc::bind(raw, (&storage as *const libc::sockaddr_storage).cast(), len) })?;
    if let Some(backlog_count) = backlog_count {
        let backlog = i32::try_from(backlog_count).unwrap_or(i32::MAX);
        // SAFETY: plain listen(2) on our socket.
        check(unsafe { libc::listen(raw, backlog) })?;
    }
    Ok(fd)
}

/// The port a listening socket is bound to (for `-p 0`).
pub fn local_port(fd: &OwnedFd) -> io::Result<u16> {
    use std::os::fd::AsRawFd;
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` and `len` are valid for writing and `len` holds the buffer size.
    check(unsafe {
        libc::getsockname(
            fd.as_raw_fd(),
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    })?;
    let port_be = match i32::from(storage.ss_family) {
        // SAFETY: the family says the storage holds a sockaddr_in.
        libc::AF_INET => unsafe {
            (*(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>()).sin_port
        },
        // SAFETY: the family says the storage holds a sockaddr_in6.
        _ => unsafe {
            (*(&storage as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>()).sin6_port
        },
    };
    Ok(u16::from_be(port_be))
}

fn sockaddr_of(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain data for which all-zero bytes are valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write((&mut storage as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_in_use_names_the_holder_and_the_fix() {
        let addr: SocketAddr = "127.0.0.1:11211".parse().unwrap();
        let holders = [Holder {
            pid: 4242,
            command: "memcached".into(),
        }];
        let message = in_use(addr, &holders);
        assert!(
            message.contains("in use by memcached (pid 4242)"),
            "{message}"
        );
        assert!(message.contains("another port (-p"), "{message}");
        let message = in_use(addr, &[]);
        assert!(message.contains("ss -ltnp 'sport = :11211'"), "{message}");
    }

    #[test]
    fn a_held_port_is_explained_with_this_process() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = held.local_addr().unwrap();
        let message = open_all(&[addr], 1, 16).map(drop).unwrap_err();
        let pid = std::process::id();
        assert!(message.contains(&format!("(pid {pid})")), "{message}");
    }
}

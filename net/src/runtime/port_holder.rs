//! Who listens on a TCP port: for the "port in use" message at start-up. Reads
//! `/proc/net/tcp{,6}` for listening sockets on the port, then `/proc/<pid>/fd` for the
//! processes holding them (only those this process may inspect: its own user's, or all as
//! root). Runs once, on an error path, never while serving.

use std::fs;

/// `st` of a listening socket in `/proc/net/tcp`.
const TCP_LISTEN_STATE: &str = "0A";

/// A process holding a listening socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// `/proc/<pid>/comm`: the program's name, at most 15 bytes.
    pub command: String,
}

/// The processes listening on `port` (any address), as far as /proc shows them.
pub fn holders_of(port: u16) -> Vec<Holder> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| fs::read_to_string(path).ok())
        .flat_map(|table| listening_inodes(&table, port))
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut holders = Vec::new();
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if holds_any(pid, &inodes) {
            let command = fs::read_to_string(format!("/proc/{pid}/comm"))
                .map(|c| c.trim_end().to_string())
                .unwrap_or_else(|_| "?".into());
            holders.push(Holder { pid, command });
        }
    }
    holders
}

fn holds_any(pid: u32, inodes: &[u64]) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|target| {
            target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse::<u64>().ok())
                .is_some_and(|inode| inodes.contains(&inode))
        })
    })
}

/// The inodes of the listening sockets on `port` in a `/proc/net/tcp` or `tcp6` table:
/// `sl local_address rem_address st ... uid timeout inode`, addresses as `HEXIP:HEXPORT`.
pub fn listening_inodes(table: &str, port: u16) -> Vec<u64> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let local = fields.get(1)?;
            let local_port = u16::from_str_radix(local.rsplit_once(':')?.1, 16).ok()?;
            let listening = *fields.get(3)? == TCP_LISTEN_STATE;
            let inode = fields.get(9)?.parse::<u64>().ok()?;
            (listening && local_port == port && inode != 0).then_some(inode)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2BCB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   112        0 4242 1 0000000000000000 100 0 0 10 0
   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 17 1 0000000000000000 100 0 0 10 0
   2: 0100007F:2BCB 0100007F:D4C2 01 00000000:00000000 00:00000000 00000000   112        0 5151 1 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn only_listening_sockets_on_the_port_count() {
        assert_eq!(listening_inodes(TABLE, 11211), vec![4242]);
        assert_eq!(listening_inodes(TABLE, 22), vec![17]);
        assert!(listening_inodes(TABLE, 80).is_empty());
        assert!(listening_inodes("", 80).is_empty());
    }

    #[test]
    fn finds_this_process_listening() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let holders = holders_of(port);
        assert!(
            holders.iter().any(|h| h.pid == std::process::id()),
            "{holders:?}"
        );
    }
}

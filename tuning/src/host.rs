//! The host as the checks see it: files under a root directory (`/` or a fixture tree), and
//! the few facts only the live process can give: an io_uring probe, `getrlimit`, and the CPU
//! affinity. Off the live root those come from fixture files instead (`proc/self/limits`,
//! `proc/self/status`) or, for the probe, not at all.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A resource limit; `None` is unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    pub soft: Option<u64>,
    pub hard: Option<u64>,
}

/// The limits ringcache depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// `RLIMIT_MEMLOCK`, bytes.
    Memlock,
    /// `RLIMIT_NOFILE`, descriptors.
    Nofile,
}

impl Resource {
    /// The line's name in `/proc/<pid>/limits`.
    fn limits_line(self) -> &'static str {
        match self {
            Resource::Memlock => "Max locked memory",
            Resource::Nofile => "Max open files",
        }
    }
}

/// Where the checks look.
#[derive(Debug)]
pub struct Host {
    root: PathBuf,
    live: bool,
}

impl Host {
    /// The host under `root`; live when `root` is `/` (after resolving links).
    pub fn new(root: &Path) -> io::Result<Host> {
        let root = fs::canonicalize(root)?;
        if !root.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a directory", root.display()),
            ));
        }
        Ok(Host {
            live: root == Path::new("/"),
            root,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when the checks look at the machine this runs on.
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// `relative` (such as `proc/swaps`) under the root.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative.trim_start_matches('/'))
    }

    /// The file's text, or `None` when it is missing or unreadable.
    pub fn read(&self, relative: &str) -> Option<String> {
        fs::read_to_string(self.path(relative)).ok()
    }

    /// The file's text without surrounding white space.
    pub fn read_trimmed(&self, relative: &str) -> Option<String> {
        self.read(relative).map(|text| text.trim().to_string())
    }

    /// The file's number (a sysctl, say).
    pub fn read_u64(&self, relative: &str) -> Option<u64> {
        self.read_trimmed(relative)?.parse().ok()
    }

    /// The names in a directory, sorted (natural order: `rx-2` before `rx-10`); empty when
    /// the directory is missing.
    pub fn entries(&self, relative: &str) -> Vec<String> {
        let Ok(dir) = fs::read_dir(self.path(relative)) else {
            return Vec::new();
        };
        let mut names: Vec<String> = dir
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .collect();
        names.sort_by_key(|name| natural_key(name));
        names
    }

    /// `/proc/self/status`'s field `name`, such as `Seccomp`.
    pub fn status_field(&self, name: &str) -> Option<String> {
        let status = self.read("proc/self/status")?;
        status.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key == name).then(|| value.trim().to_string())
        })
    }

    /// A limit of this process (live) or from the fixture's `proc/self/limits`.
    pub fn limit(&self, resource: Resource) -> Option<Limit> {
        if self.live {
            return live_limit(resource).ok();
        }
        let limits = self.read("proc/self/limits")?;
        let line = limits
            .lines()
            .find(|line| line.starts_with(resource.limits_line()))?;
        let mut fields = line[resource.limits_line().len()..].split_whitespace();
        let parse = |field: Option<&str>| match field? {
            "unlimited" => Some(None),
            number => number.parse().ok().map(Some),
        };
        Some(Limit {
            soft: parse(fields.next())?,
            hard: parse(fields.next())?,
        })
    }

    /// The CPUs this process may run on (live: its affinity mask, as the server reads it;
    /// otherwise the fixture's `Cpus_allowed_list`).
    pub fn allowed_cpus(&self) -> Option<Vec<usize>> {
        if self.live {
            return ringcache_net::runtime::cpu::allowed_cpus().ok();
        }
        crate::cpus::parse_list(&self.status_field("Cpus_allowed_list")?).ok()
    }

    /// The CPUs online (`/sys/devices/system/cpu/online`).
    pub fn online_cpus(&self) -> Option<Vec<usize>> {
        crate::cpus::parse_list(&self.read("sys/devices/system/cpu/online")?).ok()
    }

    /// Sets up and drops a small io_uring ring; `None` off the live root.
    pub fn probe_io_uring(&self) -> Option<io::Result<()>> {
        if !self.live {
            return None;
        }
        Some(io_uring::IoUring::new(8).map(drop))
    }
}

fn live_limit(resource: Resource) -> io::Result<Limit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the call to write; the resources are constants.
    let ret = unsafe {
        match resource {
            Resource::Memlock => libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit),
            Resource::Nofile => libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit),
        }
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let finite = |value: libc::rlim_t| (value != libc::RLIM_INFINITY).then_some(value);
    Ok(Limit {
        soft: finite(limit.rlim_cur),
        hard: finite(limit.rlim_max),
    })
}

/// Sorts `rx-10` after `rx-2` and `node10` after `node2`: the text, then any trailing number.
fn natural_key(name: &str) -> (String, u64) {
    let digits_at = name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let number = name[digits_at..].parse().unwrap_or(0);
    (name[..digits_at].to_string(), number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_root_is_live_and_a_fixture_is_not() {
        assert!(Host::new(Path::new("/")).unwrap().is_live());
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tuned");
        assert!(!Host::new(&fixture).unwrap().is_live());
    }

    #[test]
    fn live_limits_are_readable() {
        let host = Host::new(Path::new("/")).unwrap();
        let nofile = host.limit(Resource::Nofile).unwrap();
        assert!(nofile.soft.unwrap_or(u64::MAX) <= nofile.hard.unwrap_or(u64::MAX));
    }

    #[test]
    fn names_sort_by_their_trailing_number() {
        let mut names = vec!["rx-10", "rx-2", "rx-1", "tx-0"];
        names.sort_by_key(|name| natural_key(name));
        assert_eq!(names, ["rx-1", "rx-2", "rx-10", "tx-0"]);
    }
}

//! The machine a run was measured on: CPU model and count (/proc/cpuinfo), kernel, the
//! versions of both servers and both drivers, and how busy the machine was (load average and
//! CPU pressure at the start and the end), and how often the machine stops a running thread
//! on the servers' and the drivers' CPU (`pauses`), so a reader can judge the noise.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::pauses::{self, Pauses};
use super::record::Settings;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cpus_count: usize,
    pub kernel: String,
    pub memcached_version: String,
    pub ringcache_version: String,
    pub loadgen_version: String,
    pub memaslap_version: String,
    /// `/proc/loadavg` at the start and at the end.
    pub loadavg_start: String,
    pub loadavg_end: String,
    /// The `some` line of `/proc/pressure/cpu` at the start and the end, when the kernel has it.
    pub cpu_pressure_start: String,
    pub cpu_pressure_end: String,
    /// The servers' CPU, then the drivers', probed at the start (absent in older runs).
    #[serde(default)]
    pub pauses: Vec<Pauses>,
}

/// `(model name of the first CPU, number of CPUs)` from the text of `/proc/cpuinfo`.
pub fn parse_cpuinfo(text: &str) -> (String, usize) {
    let model = text
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let count = text.lines().filter(|l| l.starts_with("processor")).count();
    (model, count)
}

fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path)
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|_| "unavailable".into())
}

fn cpu_pressure() -> String {
    let text = read_trimmed("/proc/pressure/cpu");
    text.lines().next().unwrap_or("unavailable").to_string()
}

/// The first line a program prints for `flag` (stdout or stderr), or why it printed none.
fn version_of(program: &Path, flag: &str) -> String {
    let out = Command::new(program)
        .arg(flag)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(out) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            text.lines().next().unwrap_or("").trim().to_string()
        }
        Err(e) => format!("unknown ({e})"),
    }
}

/// The Debian package version of `package`, when dpkg knows it.
fn package_version(package: &str) -> Option<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", package])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !version.is_empty()).then_some(version)
}

impl Machine {
    /// Describes the machine and the programs before a run.
    pub fn at_start(settings: &Settings) -> Machine {
        let (cpu_model, cpus_count) = parse_cpuinfo(&read_trimmed("/proc/cpuinfo"));
        let with_package = |version: String, package: &str| match package_version(package) {
            Some(p) => format!("{version} (Debian package {package} {p})"),
            None => version,
        };
        Machine {
            cpu_model,
            cpus_count,
            kernel: format!("Linux {}", read_trimmed("/proc/sys/kernel/osrelease")),
            memcached_version: with_package(version_of(&settings.memcached_bin, "-V"), "memcached"),
            ringcache_version: version_of(&settings.ringcache_bin, "-V"),
            loadgen_version: version_of(&settings.loadgen_bin, "--version"),
            memaslap_version: with_package(
                version_of(&settings.memaslap_bin, "-V"),
                "libmemcached-tools",
            ),
            loadavg_start: read_trimmed("/proc/loadavg"),
            cpu_pressure_start: cpu_pressure(),
            pauses: pauses::probe_all(
                &[settings.server_cpu, settings.driver_cpu],
                pauses::PROBE_MS,
            ),
            ..Machine::default()
        }
    }

    /// Records how busy the machine was at the end.
    pub fn finish(&mut self) {
        self.loadavg_end = read_trimmed("/proc/loadavg");
        self.cpu_pressure_end = cpu_pressure();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_gives_the_model_and_the_count() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC\n\n\
                    processor\t: 1\nmodel name\t: AMD EPYC\n";
        assert_eq!(parse_cpuinfo(text), ("AMD EPYC".to_string(), 2));
        assert_eq!(parse_cpuinfo(""), ("unknown".to_string(), 0));
    }
}

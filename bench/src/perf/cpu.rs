//! Server CPU time from /proc: user + system time of every thread of a process.
//!
//! `/proc/PID/stat` fields 14 and 15 (`utime`, `stime`) are the whole process's times, summed
//! over all its threads (live and exited), in clock ticks (`sysconf(_SC_CLK_TCK)`, 100 per
//! second on Linux). A tick is 10 ms, so a window must hold many ticks: a 10 s run at 70k ops/s
//! and 7 us per op is about 490 ticks (a 1-tick error is 0.2%).
//!
//! `/proc/PID/task/*/schedstat` (first field: nanoseconds on the CPU, per live thread) is read
//! too, as a finer cross-check kept in the raw JSON; it misses threads that exited, which
//! neither server does while it runs.

use std::fs;

/// One reading of a process's CPU time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuSample {
    /// utime + stime, clock ticks.
    pub ticks: u64,
    /// Sum of the live threads' schedstat run time, ns, when the kernel provides it.
    pub schedstat_ns: Option<u64>,
}

/// `(utime, stime)` in clock ticks from the text of `/proc/PID/stat`.
///
/// The command name (field 2) is in parentheses and may hold spaces or parentheses itself,
/// so fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Result<(u64, u64), String> {
    let close_index = text
        .rfind(')')
        .ok_or_else(|| format!("no ')' in /proc stat line {text:?}"))?;
    // Fields after the name start at field 3 (state): field N is index N - 3.
    let fields: Vec<&str> = text[close_index + 1..].split_whitespace().collect();
    let field = |number: usize| -> Result<u64, String> {
        let text_field = fields
            .get(number - 3)
            .ok_or_else(|| format!("/proc stat line has no field {number}: {text:?}"))?;
        text_field
            .parse()
            .map_err(|_| format!("/proc stat field {number} is not a number: {text_field:?}"))
    };
    Ok((field(14)?, field(15)?))
}

/// The run time in ns from the text of `/proc/PID/task/TID/schedstat` (`run wait slices`).
pub fn parse_schedstat(text: &str) -> Result<u64, String> {
    text.split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| format!("bad schedstat line {text:?}"))
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
pub fn clock_ticks_per_sec() -> u64 {
    // SAFETY: sysconf has no preconditions; it returns -1 for an unknown name.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    assert!(ticks > 0, "sysconf(_SC_CLK_TCK) = {ticks}");
    ticks as u64
}

/// Converts clock ticks to microseconds.
pub fn ticks_to_us(ticks: u64, ticks_per_sec: u64) -> f64 {
    assert!(ticks_per_sec > 0);
    ticks as f64 * 1e6 / ticks_per_sec as f64
}

/// Reads the CPU time of process `pid` (all its threads).
pub fn read(pid: u32) -> Result<CpuSample, String> {
    let path = format!("/proc/{pid}/stat");
    let text = fs::read_to_string(&path).map_err(|e| format!("read {path}: {e}"))?;
    let (utime, stime) = parse_stat(&text)?;
    Ok(CpuSample {
        ticks: utime + stime,
        schedstat_ns: read_schedstat(pid),
    })
}

fn read_schedstat(pid: u32) -> Option<u64> {
    let mut total_ns = 0;
    for entry in fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = entry.ok()?.path().join("schedstat");
        total_ns += parse_schedstat(&fs::read_to_string(path).ok()?).ok()?;
    }
    Some(total_ns)
}

/// CPU time a process used between two samples.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CpuWindow {
    pub ticks: u64,
    pub cpu_us: f64,
    /// The schedstat cross-check, when both samples had it.
    pub schedstat_cpu_us: Option<f64>,
}

impl CpuWindow {
    pub fn between(start: CpuSample, end: CpuSample, ticks_per_sec: u64) -> CpuWindow {
        assert!(end.ticks >= start.ticks, "CPU time went backwards");
        let ticks = end.ticks - start.ticks;
        let schedstat_cpu_us = match (start.schedstat_ns, end.schedstat_ns) {
            (Some(a), Some(b)) if b >= a => Some((b - a) as f64 / 1e3),
            _ => None,
        };
        CpuWindow {
            ticks,
            cpu_us: ticks_to_us(ticks, ticks_per_sec),
            schedstat_cpu_us,
        }
    }

    /// Microseconds of server CPU per operation; `None` without operations.
    pub fn us_per_op(&self, ops: u64) -> Option<f64> {
        (ops > 0).then(|| self.cpu_us / ops as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real line of memcached's /proc/PID/stat (utime 24, stime 86).
    const STAT_LINE: &str = "22326 (memcached) S 1 22323 17847 0 -1 4194304 2890 0 1 0 24 86 0 0 \
        20 0 3 0 2173566 425967616 3406 18446744073709551615 94529210231312 94529211019184 \
        140731540346848 0 0 0 0 4102 1088 0 0 0 17 0 0 0 0 0 0\n";

    #[test]
    fn utime_and_stime_are_fields_14_and_15() {
        assert_eq!(parse_stat(STAT_LINE), Ok((24, 86)));
    }

    #[test]
    fn a_name_with_spaces_and_parentheses_does_not_shift_the_fields() {
        let line = STAT_LINE.replace("(memcached)", "(a (b) c)");
        assert_eq!(parse_stat(&line), Ok((24, 86)));
    }

    #[test]
    fn a_truncated_line_is_an_error() {
        assert!(parse_stat("1 (x) S 1 2 3").is_err());
        assert!(parse_stat("no parenthesis").is_err());
        assert!(parse_stat("1 (x) S 1 2 3 4 5 6 7 8 9 10 ab 12").is_err());
    }

    #[test]
    fn schedstat_run_time_is_the_first_field() {
        assert_eq!(parse_schedstat("123456789 2000 17\n"), Ok(123456789));
        assert!(parse_schedstat("").is_err());
    }

    #[test]
    fn ticks_convert_to_microseconds() {
        assert_eq!(ticks_to_us(250, 100), 2_500_000.0);
        let w = CpuWindow::between(
            CpuSample {
                ticks: 100,
                schedstat_ns: Some(1_000_000),
            },
            CpuSample {
                ticks: 170,
                schedstat_ns: Some(701_000_000),
            },
            100,
        );
        assert_eq!(w.ticks, 70);
        assert_eq!(w.cpu_us, 700_000.0);
        assert_eq!(w.schedstat_cpu_us, Some(700_000.0));
        assert_eq!(w.us_per_op(100_000), Some(7.0));
        assert_eq!(w.us_per_op(0), None);
    }

    #[test]
    fn this_process_has_readable_cpu_time() {
        let sample = read(std::process::id()).expect("own /proc stat");
        let busy_until = std::time::Instant::now() + std::time::Duration::from_millis(50);
        while std::time::Instant::now() < busy_until {}
        let later = read(std::process::id()).expect("own /proc stat");
        assert!(later.ticks >= sample.ticks);
    }
}

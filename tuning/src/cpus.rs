//! CPU sets as the kernel writes them: lists (`0-3,8`, in `/sys` and `smp_affinity_list`) and
//! hex masks (`00000000,0000000f`, in `rps_cpus` and `smp_affinity`). A set is a sorted `Vec`
//! of CPU numbers without repeats.

/// Parses a CPU list such as `0-3,8` with the server's own parser (`--cpus` syntax). An empty
/// or blank text is the empty set, as the kernel writes it.
pub fn parse_list(text: &str) -> Result<Vec<usize>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    ringcache_net::config::parse_cpu_list(text.trim())
}

/// Writes `cpus` (sorted, no repeats) as a list with ranges: `0-3,8` (the server's own writer).
pub fn format_list(cpus: &[usize]) -> String {
    assert!(cpus.windows(2).all(|w| w[0] < w[1]), "cpu set not sorted");
    ringcache_net::config::format_cpu_list(cpus)
}

/// Parses a hex mask such as `00000000,0000000f` (32-bit groups, most significant first).
pub fn parse_mask(text: &str) -> Result<Vec<usize>, String> {
    let digits: String = text.trim().chars().filter(|&c| c != ',').collect();
    let mut cpus = Vec::new();
    for (position, digit) in digits.chars().rev().enumerate() {
        let nibble = digit
            .to_digit(16)
            .ok_or_else(|| format!("'{}' is not a CPU mask", text.trim()))?;
        for bit in 0..4 {
            if nibble & (1 << bit) != 0 {
                cpus.push(position * 4 + bit);
            }
        }
    }
    Ok(cpus)
}

/// Writes `cpus` as a hex mask in 32-bit groups (`0`, `f`, `1,00000000`), as `rps_cpus` takes it.
pub fn format_mask(cpus: &[usize]) -> String {
    let Some(&highest) = cpus.iter().max() else {
        return "0".to_string();
    };
    let mut words = vec![0u32; highest / 32 + 1];
    for &cpu in cpus {
        words[cpu / 32] |= 1 << (cpu % 32);
    }
    let mut text = format!("{:x}", words[words.len() - 1]);
    for word in words.iter().rev().skip(1) {
        text.push_str(&format!(",{word:08x}"));
    }
    text
}

/// The CPUs in both sets.
pub fn intersect(a: &[usize], b: &[usize]) -> Vec<usize> {
    a.iter().copied().filter(|cpu| b.contains(cpu)).collect()
}

/// The CPUs of `a` not in `b`.
pub fn minus(a: &[usize], b: &[usize]) -> Vec<usize> {
    a.iter().copied().filter(|cpu| !b.contains(cpu)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip() {
        for text in ["0", "0-3", "0-3,8", "1,3,5", "0-1,4-7,12"] {
            assert_eq!(format_list(&parse_list(text).unwrap()), text);
        }
        assert_eq!(parse_list("\n").unwrap(), Vec::<usize>::new());
    }

    #[test]
    fn masks_round_trip_over_word_boundaries() {
        assert_eq!(parse_mask("00000000,0000000f").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse_mask("1,00000000").unwrap(), vec![32]);
        assert_eq!(parse_mask("0").unwrap(), Vec::<usize>::new());
        for cpus in [vec![], vec![0], vec![2, 3], vec![0, 31, 32, 63, 64]] {
            assert_eq!(parse_mask(&format_mask(&cpus)).unwrap(), cpus);
        }
        assert_eq!(format_mask(&[0, 1]), "3");
        assert_eq!(format_mask(&[32]), "1,00000000");
    }

    #[test]
    fn a_mask_with_a_bad_digit_is_refused() {
        assert!(parse_mask("0000000g").is_err());
    }
}

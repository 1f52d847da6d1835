//! Resident memory of this process, from `/proc/self/status` (Linux), and the CPU time
//! it used, from `/proc/self/stat`. Peak RSS can be reset between scenarios by writing 5
//! to `/proc/self/clear_refs`.

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Peak resident set size since start (or the last reset), in MiB.
pub fn peak_mib() -> Option<f64> {
    status_kib("VmHWM:").map(|k| k as f64 / 1024.0)
}

/// Resets the peak to the current size (best effort: needs Linux ≥ 4.0).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// CPU time this process has used (user + system, every thread), in seconds; `None`
/// off Linux. In clock ticks of 10 ms (`CLK_TCK` is 100 on Linux): measure seconds of
/// work, not single requests.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses: utime and
    // stime are the 14th and 15th of the line, the 12th and 13th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

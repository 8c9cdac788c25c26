//! Parser for `/proc/stat`: the aggregate `cpu` line, `btime` and `ctxt`.

/// The ten time columns of the aggregate `cpu` line, in kernel order, with their SAAF names.
pub(crate) const CPU_FIELDS: [&str; 10] = [
    "cpuUser",
    "cpuNice",
    "cpuKernel",
    "cpuIdle",
    "cpuIOWait",
    "cpuIrq",
    "cpuSoftIrq",
    "cpuSteal",
    "cpuGuest",
    "cpuGuestNice",
];

/// One reading of `/proc/stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ProcStat {
    /// Clock ticks of the aggregate `cpu` line, in the order of [`CPU_FIELDS`]. Columns an
    /// older kernel does not print are `None`.
    pub cpu_ticks: [Option<u64>; 10],
    /// `btime`: boot time in seconds since the epoch.
    pub boot_time: Option<u64>,
    /// `ctxt`: context switches since boot.
    pub context_switches: Option<u64>,
}

/// Parses the text of `/proc/stat`. Unknown or malformed lines are skipped.
pub(crate) fn parse(text: &str) -> ProcStat {
    let mut stat = ProcStat::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            // Only the aggregate line "cpu"; per-CPU lines are "cpu0", "cpu1", ...
            Some("cpu") => {
                for (slot, word) in stat.cpu_ticks.iter_mut().zip(words) {
                    *slot = word.parse().ok();
                }
            }
            Some("btime") => stat.boot_time = words.next().and_then(|w| w.parse().ok()),
            Some("ctxt") => stat.context_switches = words.next().and_then(|w| w.parse().ok()),
            _ => {}
        }
    }
    stat
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "cpu  5692 3 1888 34567 281 7 54 145 11 12\n\
cpu0 1509 0 734 18932 38 0 16 75 0 0\n\
cpu1 4182 3 1154 15634 242 7 37 69 11 12\n\
intr 102926 0 0 0 0\n\
ctxt 173682\n\
btime 1796065968\n\
processes 3701\n\
procs_running 3\n";

    #[test]
    fn parses_aggregate_line_boot_time_and_context_switches() {
        let stat = parse(SAMPLE);
        assert_eq!(
            stat.cpu_ticks,
            [5692, 3, 1888, 34567, 281, 7, 54, 145, 11, 12].map(Some)
        );
        assert_eq!(stat.boot_time, Some(1_796_065_968));
        assert_eq!(stat.context_switches, Some(173_682));
    }

    #[test]
    fn old_kernels_with_fewer_columns_leave_the_rest_unknown() {
        let stat = parse("cpu  10 20 30 40\nbtime 5\n");
        assert_eq!(
            &stat.cpu_ticks[..4],
            &[Some(10), Some(20), Some(30), Some(40)]
        );
        assert!(stat.cpu_ticks[4..].iter().all(Option::is_none));
        assert_eq!(stat.context_switches, None);
    }

    #[test]
    fn per_cpu_lines_are_not_mistaken_for_the_total() {
        let stat = parse("cpu0 1 1 1 1 1 1 1 1 1 1\n");
        assert!(stat.cpu_ticks.iter().all(Option::is_none));
    }
}

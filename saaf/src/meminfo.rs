//! Parsers for `/proc/meminfo` (total and free memory) and `/proc/vmstat` (page faults).

/// Memory facts from `/proc/meminfo`, in kB as the kernel prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct MemInfo {
    pub total_kb: Option<u64>,
    pub free_kb: Option<u64>,
}

/// Page-fault counters from `/proc/vmstat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct VmStat {
    pub page_faults: Option<u64>,
    pub major_page_faults: Option<u64>,
}

/// Parses the text of `/proc/meminfo` (`MemTotal:` and `MemFree:` lines).
pub(crate) fn parse_meminfo(text: &str) -> MemInfo {
    let mut info = MemInfo::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let slot = match words.next() {
            Some("MemTotal:") => &mut info.total_kb,
            Some("MemFree:") => &mut info.free_kb,
            _ => continue,
        };
        *slot = words.next().and_then(|w| w.parse().ok());
    }
    info
}

/// Parses the text of `/proc/vmstat` (exact keys `pgfault` and `pgmajfault`).
pub(crate) fn parse_vmstat(text: &str) -> VmStat {
    let mut stat = VmStat::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let slot = match words.next() {
            Some("pgfault") => &mut stat.page_faults,
            Some("pgmajfault") => &mut stat.major_page_faults,
            _ => continue,
        };
        *slot = words.next().and_then(|w| w.parse().ok());
    }
    stat
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meminfo_total_and_free() {
        let text = "MemTotal:       24683656 kB\nMemFree:        23255212 kB\n\
                    MemAvailable:   24089428 kB\n";
        assert_eq!(
            parse_meminfo(text),
            MemInfo {
                total_kb: Some(24_683_656),
                free_kb: Some(23_255_212)
            }
        );
    }

    #[test]
    fn meminfo_ignores_similar_keys_and_order() {
        let text = "SwapFree: 1 kB\nMemFree: 7 kB\nHugeMemTotal: 3 kB\n";
        let info = parse_meminfo(text);
        assert_eq!(info.free_kb, Some(7));
        assert_eq!(info.total_kb, None);
    }

    #[test]
    fn vmstat_page_faults_match_exact_keys() {
        // `thp_fault_alloc` and `pgfault_x` must not be taken for `pgfault`.
        let text = "pgfree 99\nthp_fault_alloc 5\npgfault 1284885\npgmajfault 547\n";
        assert_eq!(
            parse_vmstat(text),
            VmStat {
                page_faults: Some(1_284_885),
                major_page_faults: Some(547)
            }
        );
    }
}

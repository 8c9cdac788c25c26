//! Small facts about the process and the kernel, read without libc: the clock tick rate, a
//! fresh UUID, the process start time and the kernel's `uname`.

use std::fs;
use std::time::{SystemTime, UNIX_EPOCH};

/// `AT_CLKTCK` in the ELF auxiliary vector: the value `sysconf(_SC_CLK_TCK)` returns.
const AT_CLKTCK: u64 = 17;
/// `AT_NULL`: the end of the auxiliary vector.
const AT_NULL: u64 = 0;
/// `getconf CLK_TCK` on every Linux architecture FaaS platforms use.
pub(crate) const DEFAULT_CLK_TCK: u64 = 100;

/// Milliseconds since the Unix epoch.
pub(crate) fn now_epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Clock ticks per second of `/proc` times (`getconf CLK_TCK`), from `/proc/self/auxv`;
/// [`DEFAULT_CLK_TCK`] when that cannot be read.
pub(crate) fn clk_tck() -> u64 {
    fs::read("/proc/self/auxv")
        .ok()
        .and_then(|bytes| parse_auxv(&bytes, std::mem::size_of::<usize>(), AT_CLKTCK))
        .filter(|&hz| hz > 0)
        .unwrap_or(DEFAULT_CLK_TCK)
}

/// Finds `key` in an auxiliary vector: native-endian (key, value) pairs of `word` bytes each.
fn parse_auxv(bytes: &[u8], word: usize, key: u64) -> Option<u64> {
    let read = |chunk: &[u8]| -> u64 {
        match word {
            4 => u32::from_ne_bytes(chunk.try_into().expect("4 bytes")) as u64,
            _ => u64::from_ne_bytes(chunk.try_into().expect("8 bytes")),
        }
    };
    if word != 4 && word != 8 {
        return None;
    }
    for pair in bytes.chunks_exact(2 * word) {
        let (k, v) = (read(&pair[..word]), read(&pair[word..]));
        if k == key {
            return Some(v);
        }
        if k == AT_NULL {
            break;
        }
    }
    None
}

/// A random (version 4) UUID from the kernel, or one made from the time and process id when
/// `/proc/sys/kernel/random/uuid` cannot be read.
pub(crate) fn new_uuid() -> String {
    if let Ok(text) = fs::read_to_string("/proc/sys/kernel/random/uuid") {
        let text = text.trim();
        if text.len() == 36 {
            return text.to_string();
        }
    }
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let hi = splitmix64(nanos ^ (std::process::id() as u64).rotate_left(32));
    let lo = splitmix64(hi ^ nanos);
    uuid_from_bits(hi, lo)
}

fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Formats 128 bits as a version-4, variant-1 UUID.
fn uuid_from_bits(hi: u64, lo: u64) -> String {
    let hi = (hi & !0xF000) | 0x4000; // version 4
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62); // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xFFFF,
        hi & 0xFFFF,
        lo >> 48,
        lo & 0xFFFF_FFFF_FFFF
    )
}

/// Start time of this process in epoch milliseconds (10 ms resolution): now minus the
/// process's age, which is the system uptime (`/proc/uptime`) minus the process's start in
/// clock ticks after boot (`/proc/self/stat` field 22). `btime` is not used: it is truncated
/// to whole seconds. `None` when unreadable.
pub(crate) fn process_start_epoch_ms(now_ms: u64, clk_tck: u64) -> Option<u64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    let uptime = fs::read_to_string("/proc/uptime").ok()?;
    let start_ms = parse_start_ticks(&stat)? as f64 * 1000.0 / clk_tck.max(1) as f64;
    let uptime_ms = uptime.split_whitespace().next()?.parse::<f64>().ok()? * 1000.0;
    let age_ms = (uptime_ms - start_ms).max(0.0);
    Some(now_ms.saturating_sub(age_ms.round() as u64))
}

/// Field 22 (`starttime`) of a `/proc/<pid>/stat` line. The command name (field 2) may hold
/// spaces and parentheses, so counting starts after its last `)`.
fn parse_start_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts with field 3 (state); field 22 is the 20th word.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The kernel's identity in the shape of `uname -a` without the user-space suffix:
/// `<sysname> <nodename> <release> <version> <machine>`, from `/proc/sys/kernel`; falls back to
/// `/proc/version`.
pub(crate) fn linux_version() -> Option<String> {
    let read = |name: &str| {
        fs::read_to_string(format!("/proc/sys/kernel/{name}"))
            .ok()
            .map(|s| s.trim().to_string())
    };
    match (
        read("ostype"),
        read("hostname"),
        read("osrelease"),
        read("version"),
    ) {
        (Some(sys), Some(host), Some(release), Some(version)) => Some(format!(
            "{sys} {host} {release} {version} {}",
            std::env::consts::ARCH
        )),
        _ => fs::read_to_string("/proc/version")
            .ok()
            .map(|s| s.trim().to_string()),
    }
}

/// SAAF's `architecture` value: `x86_64` or `arm64` (Lambda's names), else Rust's name.
pub(crate) fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auxv(pairs: &[(u64, u64)]) -> Vec<u8> {
        pairs
            .iter()
            .flat_map(|&(k, v)| [k.to_ne_bytes(), v.to_ne_bytes()])
            .flatten()
            .collect()
    }

    #[test]
    fn auxv_clock_tick() {
        let bytes = auxv(&[(33, 7), (6, 4096), (17, 250), (0, 0)]);
        assert_eq!(parse_auxv(&bytes, 8, AT_CLKTCK), Some(250));
        let missing = auxv(&[(6, 4096), (0, 0), (17, 250)]);
        assert_eq!(parse_auxv(&missing, 8, AT_CLKTCK), None, "stops at AT_NULL");
    }

    #[test]
    fn auxv_32_bit_words() {
        let bytes: Vec<u8> = [6u32, 4096, 17, 100, 0, 0]
            .iter()
            .flat_map(|w| w.to_ne_bytes())
            .collect();
        assert_eq!(parse_auxv(&bytes, 4, AT_CLKTCK), Some(100));
    }

    #[test]
    fn start_ticks_after_a_command_with_spaces_and_parens() {
        let stat = "4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 118 0 0 0 1 0 0 0 20 0 1 0 \
                    987654 5378048 200 18446744073709551615";
        assert_eq!(parse_start_ticks(stat), Some(987_654));
        assert_eq!(parse_start_ticks("1 (x) S 1"), None);
    }

    #[test]
    fn uuid_shape() {
        let u = uuid_from_bits(u64::MAX, 0);
        assert_eq!(u, "ffffffff-ffff-4fff-8000-000000000000");
        let fresh = new_uuid();
        assert_eq!(fresh.len(), 36);
        assert_eq!(fresh.matches('-').count(), 4);
        assert_ne!(fresh, new_uuid());
    }

    #[test]
    fn real_clock_tick_is_plausible() {
        let hz = clk_tck();
        assert!((1..=10_000).contains(&hz), "CLK_TCK {hz}");
    }
}

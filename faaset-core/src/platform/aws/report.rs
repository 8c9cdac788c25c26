//! Lambda's `REPORT` line, read from the log tail an Invoke with `X-Amz-Log-Type: Tail`
//! returns (base64, the last 4 KB of the call's log), into the platform fields of a result
//! row (DESIGN §1.5) — the same names the local platform reports, so statistics, sweeps and
//! plots read AWS rows unchanged.
//!
//! The line looks like `REPORT RequestId: … Duration: 1.52 ms Billed Duration: 2 ms Memory
//! Size: 128 MB Max Memory Used: 19 MB Init Duration: 30.84 ms`; `Init Duration` appears only
//! on a cold start.

use base64::Engine as _;
use serde_json::{Map, Value};

/// The row fields this module fills: the `REPORT` line's, `coldStart` (an `Init Duration` is
/// there exactly on a cold start) and `limitsEnforced`; every platform field but
/// `environmentId` (Lambda's report names no environment).
pub const FIELDS: &[&str] = crate::platform::REPORT_FIELDS.split_at(7).0;

/// The row fields of the `REPORT` line in a base64 log tail; empty when there is none (an
/// endpoint that sends no log, a tail cut before the line).
pub fn fields_from_log_tail(tail_base64: &str) -> Map<String, Value> {
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(tail_base64.trim()) else {
        return Map::new();
    };
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .rev()
        .find_map(|line| line.find("REPORT RequestId:").map(|at| &line[at..]))
        .map(fields_from_report_line)
        .unwrap_or_default()
}

/// The row fields of one `REPORT` line.
pub fn fields_from_report_line(line: &str) -> Map<String, Value> {
    // (label in the line, row field, is an integer MB value)
    const LABELS: &[(&str, &str)] = &[
        ("Duration", "duration"),
        ("Billed Duration", "billedDuration"),
        ("Memory Size", "memorySize"),
        ("Max Memory Used", "maxMemoryUsed"),
        ("Init Duration", "initDuration"),
    ];
    let mut fields = Map::new();
    // Fields are tab-separated on Lambda; split on tabs and on the double spaces some log
    // copies turn tabs into, then read `Label: number unit`.
    for part in line.split(['\t']).flat_map(|p| p.split("  ")) {
        let Some((label, rest)) = part.trim().split_once(':') else {
            continue;
        };
        let Some(&(_, field)) = LABELS.iter().find(|(l, _)| *l == label.trim()) else {
            continue;
        };
        let Some(number) = rest
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<f64>().ok())
        else {
            continue;
        };
        let value = if field == "memorySize" {
            Value::from(number as u64)
        } else {
            Value::from(number)
        };
        fields.insert(field.to_string(), value);
    }
    if fields.contains_key("duration") {
        fields.insert(
            "coldStart".to_string(),
            Value::Bool(fields.contains_key("initDuration")),
        );
        // Lambda enforces the configured memory and CPU share on every environment.
        fields.insert("limitsEnforced".to_string(), Value::Bool(true));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(line: &str, expected: Value) {
        let fields = fields_from_report_line(line);
        for key in fields.keys() {
            assert!(
                FIELDS.contains(&key.as_str()),
                "{key} is missing from FIELDS"
            );
        }
        assert_eq!(Value::Object(fields), expected, "{line}");
    }

    #[test]
    fn report_lines() {
        check(
            "REPORT RequestId: 8f5b\tDuration: 1.52 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 19 MB\tInit Duration: 30.84 ms\t",
            json!({"duration": 1.52, "billedDuration": 2.0, "memorySize": 128,
                   "maxMemoryUsed": 19.0, "initDuration": 30.84, "coldStart": true,
                   "limitsEnforced": true}),
        );
        check(
            "REPORT RequestId: 8f5b  Duration: 0.91 ms  Billed Duration: 1 ms  Memory Size: 1024 MB  Max Memory Used: 20 MB",
            json!({"duration": 0.91, "billedDuration": 1.0, "memorySize": 1024,
                   "maxMemoryUsed": 20.0, "coldStart": false, "limitsEnforced": true}),
        );
        check("START RequestId: 1 Version: $LATEST", json!({}));
    }

    #[test]
    fn log_tails() {
        let log = "START RequestId: a Version: $LATEST\nhello\nEND RequestId: a\n\
                   REPORT RequestId: a\tDuration: 3.00 ms\tBilled Duration: 3 ms\tMemory Size: 256 MB\tMax Memory Used: 30 MB\t\n";
        let tail = base64::engine::general_purpose::STANDARD.encode(log);
        let fields = fields_from_log_tail(&tail);
        assert_eq!(fields["memorySize"], json!(256));
        assert_eq!(fields["coldStart"], json!(false));
        assert!(fields_from_log_tail("not base64!").is_empty());
        assert!(fields_from_log_tail("").is_empty());
    }
}

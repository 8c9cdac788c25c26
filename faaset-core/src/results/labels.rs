//! How metrics, group keys and long cells are shown on charts and in tables.

/// The metrics measured in milliseconds (DESIGN §1.5): labelled "(ms)" on charts and tables.
pub fn is_milliseconds(metric: &str) -> bool {
    matches!(
        metric,
        "roundTripTime"
            | "latency"
            | "runtime"
            | "userRuntime"
            | "frameworkRuntime"
            | "duration"
            | "billedDuration"
            | "initDuration"
    )
}

/// `metric`, with "(ms)" for a time.
pub fn axis_label(metric: &str) -> String {
    if is_milliseconds(metric) {
        format!("{metric} (ms)")
    } else {
        metric.to_string()
    }
}

/// A group key for display: an empty cell is `(empty)`.
pub fn show_key(key: &str) -> &str {
    if key.is_empty() {
        "(empty)"
    } else {
        key
    }
}

/// At most `max` characters of `text` on one line, with `…` where it was cut.
pub fn shorten(text: &str, max: usize) -> String {
    let line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.chars().count() <= max {
        return line;
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

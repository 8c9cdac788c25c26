//! Words the core shows to people, written once.

/// `"s"` unless `n` is 1: "1 error", "2 errors".
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

//! Words the core shows to people, written once.

/// `"s"` unless `n` is 1: "1 error", "2 errors".
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The closest choice within two edits of `typed` (and under half its length), if any.
pub fn closest<'a, S: AsRef<str>>(choices: &'a [S], typed: &str) -> Option<&'a str> {
    choices
        .iter()
        .map(|c| (strsim::damerau_levenshtein(c.as_ref(), typed), c.as_ref()))
        .filter(|(d, _)| *d <= 2 && 2 * d < typed.chars().count())
        .min()
        .map(|(_, c)| c)
}

//! `is_complete_request`: is the code a whole cell, or is the user still typing (an open
//! brace, bracket, string or block comment)? Consoles use the answer to decide between
//! running the code and a continuation prompt.

/// `complete`, `incomplete` (with the indent for the next line) or `invalid`.
#[derive(Debug, PartialEq, Eq)]
pub enum Completeness {
    Complete,
    Incomplete { indent: String },
    Invalid,
}

pub fn check(code: &str) -> Completeness {
    // Magic lines and the body of a %%cloud_function cell follow the same rule as Rust,
    // since a magic's JSON can also be left open.
    let mut depth: Vec<char> = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let mut nesting = 1;
                i += 2;
                while nesting > 0 {
                    if i + 1 >= chars.len() {
                        return incomplete(&depth, true);
                    }
                    match (chars[i], chars[i + 1]) {
                        ('/', '*') => {
                            nesting += 1;
                            i += 1;
                        }
                        ('*', '/') => {
                            nesting -= 1;
                            i += 1;
                        }
                        _ => {}
                    }
                    i += 1;
                }
                continue;
            }
            'r' if matches!(next, Some('#') | Some('"')) && is_word_start(&chars, i) => {
                // Raw string: r"…", r#"…"#, …
                let mut hashes = 0;
                let mut j = i + 1;
                while chars.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if chars.get(j) != Some(&'"') {
                    i += 1;
                    continue;
                }
                j += 1;
                loop {
                    if j >= chars.len() {
                        return incomplete(&depth, true);
                    }
                    if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                        i = j + hashes;
                        break;
                    }
                    j += 1;
                }
            }
            '"' => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return incomplete(&depth, true),
                        Some('\\') => i += 2,
                        Some('"') => break,
                        Some(_) => i += 1,
                    }
                }
            }
            '\'' => {
                // A char literal ('a', '\n', '\''), not a lifetime ('a).
                if next == Some('\\') {
                    let mut j = i + 2;
                    while j < chars.len() && chars[j] != '\'' {
                        j += 1;
                    }
                    i = j;
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 2;
                }
            }
            '(' | '[' | '{' => depth.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if depth.pop() != Some(open) {
                    return Completeness::Invalid;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if depth.is_empty() {
        Completeness::Complete
    } else {
        incomplete(&depth, false)
    }
}

fn is_word_start(chars: &[char], i: usize) -> bool {
    i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

fn incomplete(depth: &[char], in_literal: bool) -> Completeness {
    let indent = if in_literal {
        String::new()
    } else {
        "    ".repeat(depth.len())
    };
    Completeness::Incomplete { indent }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incomplete_with(indent: &str) -> Completeness {
        Completeness::Incomplete {
            indent: indent.to_string(),
        }
    }

    #[test]
    fn open_braces_strings_and_comments() {
        assert_eq!(check("let x = 1;"), Completeness::Complete);
        assert_eq!(check("fn f() {\n    if x {"), incomplete_with("        "));
        assert_eq!(check("let v = vec![1,"), incomplete_with("    "));
        assert_eq!(check("let s = \"abc"), incomplete_with(""));
        assert_eq!(check("let s = \"a { b\";"), Completeness::Complete);
        assert_eq!(check("let s = r#\"a \" { \"#;"), Completeness::Complete);
        assert_eq!(check("// {\nlet x = 1;"), Completeness::Complete);
        assert_eq!(check("/* { */ let c = '{';"), Completeness::Complete);
        assert_eq!(
            check("fn f<'a>(x: &'a str) -> &'a str { x }"),
            Completeness::Complete
        );
        assert_eq!(check("/* open"), incomplete_with(""));
        assert_eq!(check("let x = 1; }"), Completeness::Invalid);
        assert_eq!(check("(]"), Completeness::Invalid);
        assert_eq!(check("%faaset invoke f {\"a\": 1"), incomplete_with("    "));
    }
}

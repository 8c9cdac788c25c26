//! Each column's type, inferred from every row as polars infers a CSV's schema (integers, then
//! floats, then booleans, else text; empty cells do not count), so `load` can say what a
//! DataFrame of the file would hold without building one.

use std::fmt;

use super::Results;

/// The type of a column, named as polars names its dtypes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Int,
    Float,
    Bool,
    Text,
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnType::Int => "i64",
            ColumnType::Float => "f64",
            ColumnType::Bool => "bool",
            ColumnType::Text => "str",
        })
    }
}

impl ColumnType {
    /// The narrowest type that holds every one of `cells` (empty ones aside); text when
    /// there are none.
    fn of<'a>(cells: impl Iterator<Item = &'a str>) -> Self {
        let mut seen: Option<ColumnType> = None;
        for cell in cells.filter(|c| !c.is_empty()) {
            let here = Self::of_cell(cell);
            seen = Some(match (seen, here) {
                (None, t) => t,
                (Some(a), b) if a == b => a,
                (Some(ColumnType::Int), ColumnType::Float)
                | (Some(ColumnType::Float), ColumnType::Int) => ColumnType::Float,
                _ => return ColumnType::Text,
            });
        }
        seen.unwrap_or(ColumnType::Text)
    }

    fn of_cell(cell: &str) -> Self {
        let digits = cell.strip_prefix('-').unwrap_or(cell);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            if cell.parse::<i64>().is_ok() {
                return ColumnType::Int;
            }
            return ColumnType::Float;
        }
        if cell.eq_ignore_ascii_case("true") || cell.eq_ignore_ascii_case("false") {
            return ColumnType::Bool;
        }
        let plain = cell.strip_prefix(['-', '+']).unwrap_or(cell);
        let float = plain.eq_ignore_ascii_case("inf")
            || plain == "NaN"
            || (plain.bytes().any(|b| b.is_ascii_digit())
                && plain
                    .bytes()
                    .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'))
                && plain.parse::<f64>().is_ok());
        if float {
            ColumnType::Float
        } else {
            ColumnType::Text
        }
    }
}

impl Results {
    /// The type of column `name` (`None` when there is no such column).
    pub fn column_type(&self, name: &str) -> Option<ColumnType> {
        let i = *self.index.get(name)?;
        Some(ColumnType::of(self.rows.iter().map(|row| row[i].as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::ColumnType::{self, *};

    fn of(cells: &[&str]) -> ColumnType {
        ColumnType::of(cells.iter().copied())
    }

    #[test]
    fn the_narrowest_type_that_holds_every_cell() {
        assert_eq!(of(&["1", "-2", ""]), Int);
        assert_eq!(of(&["1", "2.5"]), Float);
        assert_eq!(of(&["1e3", "NaN", "-inf"]), Float);
        assert_eq!(of(&["99999999999999999999"]), Float);
        assert_eq!(of(&["true", "FALSE"]), Bool);
        assert_eq!(of(&["true", "1"]), Text);
        assert_eq!(of(&["1.2.3"]), Text);
        assert_eq!(of(&["", ""]), Text);
        assert_eq!(of(&["{\"a\": 1}"]), Text);
        assert_eq!(Int.to_string(), "i64");
    }
}

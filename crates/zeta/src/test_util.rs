//! Helpers for unit tests: reading the reference tables in `tests/data`.

/// Parses a whitespace-separated numeric table, skipping `#` comment lines.
pub fn table(text: &str) -> Vec<Vec<f64>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            line.split_whitespace()
                .map(|x| x.parse().expect("number"))
                .collect()
        })
        .collect()
}

/// Parses a table like [`table`] whose fields are read as double-double decimals (heights
/// beyond what f64 holds).
pub fn precise_table(text: &str) -> Vec<Vec<crate::double_double::DoubleDouble>> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            line.split_whitespace()
                .map(|x| crate::double_double::DoubleDouble::parse_decimal(x).expect("number"))
                .collect()
        })
        .collect()
}

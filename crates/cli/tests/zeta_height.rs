//! `spectral zeta-z` and `spectral zeros --from-t` against mpmath and Arb
//! (crates/zeta/tests/data/height_counts_reference.txt and height_zeros_reference.txt, made by
//! crates/zeta/tests/data/make_height_reference.py).

mod common;

use common::{error_line, ok, spectral};
use spectral_zeta::DoubleDouble;

const COUNTS: &str = include_str!("../../zeta/tests/data/height_counts_reference.txt");
const ZEROS: &str = include_str!("../../zeta/tests/data/height_zeros_reference.txt");

fn rows(text: &str) -> Vec<Vec<&str>> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| line.split_whitespace().collect())
        .collect()
}

#[test]
fn zeta_z_prints_z_n_and_s_as_mpmath_and_arb_have_them() {
    let dir = tempfile::tempdir().unwrap();
    let reference = rows(COUNTS);
    let heights: Vec<&str> = reference.iter().map(|row| row[0]).collect();
    let stdout = ok(spectral(
        &["zeta-z", "--t", &heights.join(","), "--json", "-"],
        dir.path(),
    ));
    // `--json -`: the JSON array alone on stdout (the table on stderr).
    let values: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(values.len(), reference.len(), "{stdout}");
    for (value, row) in values.iter().zip(&reference) {
        assert_eq!(value["t"], row[0], "{value}");
        let field = |name: &str| value[name].as_f64().unwrap();
        // N exactly (Arb); S and Z to the library's tolerances (crates/zeta/tests/arb_reference.rs).
        assert_eq!(field("n"), row[1].parse::<f64>().unwrap(), "{value}");
        assert!(
            (field("s") - row[2].parse::<f64>().unwrap()).abs() < 1e-14,
            "{value}"
        );
        assert!(
            (field("z") - row[3].parse::<f64>().unwrap()).abs() < 3e-13,
            "{value}"
        );
    }
    let table = ok(spectral(&["zeta-z", "--t", "1000.5"], dir.path()));
    assert!(table.lines().nth(1).unwrap().contains(" 649 "), "{table}");
}

#[test]
fn zeros_from_a_height_start_at_the_first_zero_above_it() {
    // 1e-9 below γ_10¹⁰ (Arb): the window starts there, and prints it to 1e-9 in txt.
    let dir = tempfile::tempdir().unwrap();
    let reference = rows(ZEROS);
    let row = reference
        .iter()
        .find(|row| row[0] == "10000000000")
        .unwrap();
    let gamma = DoubleDouble::parse_decimal(row[1]).unwrap();
    let below = (gamma - 1e-9).to_decimal(12);
    let args = [
        "zeros", "--from-t", &below, "--count", "2", "--format", "txt", "--out", "z.txt",
    ];
    let stdout = ok(spectral(&args, dir.path()));
    assert!(
        stdout.contains("wrote γ_10000000000..γ_10000000001"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(dir.path().join("z.txt")).unwrap();
    for (line, row) in text
        .lines()
        .zip(reference.iter().skip_while(|r| r[0] != "10000000000"))
    {
        let (index, value) = line.split_once(' ').unwrap();
        assert_eq!(index, row[0]);
        let error = DoubleDouble::parse_decimal(value).unwrap()
            - DoubleDouble::parse_decimal(row[1]).unwrap();
        assert!(error.to_f64().abs() < 1e-9, "{line} vs Arb {}", row[1]);
    }
}

#[test]
fn bad_heights_get_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    for (args, names) in [
        (
            vec!["zeta-z", "--t", "abc"],
            "\"abc\" is not a decimal number",
        ),
        (vec!["zeta-z", "--t", "-5"], "-5"),
        (vec!["zeta-z", "--t", "1000,nan"], "NaN"),
        (vec!["zeta-z", "--t", "1e14"], "1e14"),
        (vec!["zeros", "--from-t", "8e12", "--count", "3"], "8e12"),
        (vec!["zeros", "--from-t", "-1", "--count", "3"], "-1"),
    ] {
        let line = error_line(spectral(&args, dir.path()));
        assert!(line.contains(names), "{args:?}: {line}");
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no file left behind"
    );
}

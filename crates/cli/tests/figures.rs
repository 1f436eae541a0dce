//! The figures' text, read from their SVG: tick labels without `.0` or `-0`, every series
//! named in a legend right of the plot (not over the data), at most 8 curves in a spectrum
//! panel, and a note where a log axis left zeros out; for `spectral stats`, `spectral spectrum
//! --compare` and `spectral plot`.

mod common;

use common::{MDN, TRAINING, ok, spectral, train};
use std::path::Path;

/// One `<text>` element of an SVG as plotters writes it: position, anchor, content.
#[derive(Debug)]
struct Text {
    x: f64,
    anchor: String,
    content: String,
}

fn attribute(tag: &str, name: &str) -> String {
    let key = format!(" {name}=\"");
    let start = tag.find(&key).map(|i| i + key.len()).unwrap_or(tag.len());
    tag[start..].split('"').next().unwrap_or("").to_string()
}

fn texts(svg: &str) -> Vec<Text> {
    svg.split("<text")
        .skip(1)
        .map(|chunk| {
            let (tag, rest) = chunk.split_once('>').expect("a text tag");
            let content = rest.split("</text>").next().unwrap().trim();
            Text {
                x: attribute(tag, "x").parse().expect("a text's x"),
                anchor: attribute(tag, "text-anchor"),
                content: content
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&"),
            }
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A tick label: a number written plain, as `m×10ᵉ` or as `10ᵉ`.
fn is_tick(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit())
        && text.chars().all(|c| "0123456789.-×⁰¹²³⁴⁵⁶⁷⁸⁹⁻".contains(c))
}

/// Every tick label of `svg` reads as a person writes numbers; returns how many there are.
fn check_ticks(svg: &str, figure: &str) -> usize {
    let ticks: Vec<String> = texts(svg)
        .into_iter()
        .map(|t| t.content)
        .filter(|t| is_tick(t))
        .collect();
    for tick in &ticks {
        assert!(!tick.ends_with(".0"), "{figure}: tick label {tick}");
        assert!(!tick.contains(".0×"), "{figure}: tick label {tick}");
        assert!(tick != "-0", "{figure}: tick label {tick}");
        let decimals = tick.split(['.', '×']).nth(1).map_or(0, str::len);
        assert!(decimals <= 4, "{figure}: tick label {tick}");
    }
    ticks.len()
}

/// The legend entries of a one-chart `svg` (left-anchored text), after checking that each
/// starts right of every x-axis tick label, i.e. beside the plot and not over it.
fn legend(svg: &str, figure: &str) -> Vec<String> {
    let texts = texts(svg);
    let right_of_ticks = texts
        .iter()
        .filter(|t| t.anchor == "middle" && is_tick(&t.content))
        .map(|t| t.x)
        .fold(f64::NEG_INFINITY, f64::max);
    assert!(right_of_ticks.is_finite(), "{figure}: no x-axis ticks");
    texts
        .iter()
        .filter(|t| t.anchor == "start")
        .map(|t| {
            assert!(
                t.x > right_of_ticks,
                "{figure}: legend entry {:?} at x {} is over the plot (last tick at {right_of_ticks})",
                t.content,
                t.x
            );
            t.content.clone()
        })
        .collect()
}

#[test]
fn stats_figures_have_plain_ticks_and_legends_beside_the_plot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::spacings(d, 3000);
    ok(spectral(
        &["stats", "--spacings", "s.f64", "--out", "st"],
        d,
    ));
    let expected: [(&str, &[&str]); 7] = [
        (
            "spacing_distribution",
            &[
                "zeta zeros",
                "GUE control",
                "Gaudin (GUE)",
                "Wigner surmise",
                "Poisson",
            ],
        ),
        ("pair_correlation", &["zeta zeros", "GUE control"]),
        ("number_variance", &["zeta zeros", "GUE control", "GUE"]),
        ("rigidity", &["zeta zeros", "GUE control", "GUE"]),
        ("autocorrelation", &["zeta zeros", "GUE control"]),
        ("height_drift", &["zeta zeros, per block"]),
        ("height_drift_ks", &["zeta zeros, per block"]),
    ];
    for (figure, names) in expected {
        let svg = read(&d.join("st").join(format!("{figure}.svg")));
        assert!(
            check_ticks(&svg, figure) >= 6,
            "{figure}: ticks on both axes"
        );
        let entries = legend(&svg, figure);
        for name in names {
            assert!(
                entries.iter().any(|e| e == name),
                "{figure}: {name} not in {entries:?}"
            );
        }
        assert!(d.join("st").join(format!("{figure}.png")).is_file());
    }
}

/// Trains `out = name` like [`train`], with another seed and `top` (top-level keys) added.
fn train_seeded(dir: &Path, name: &str, seed: u64, top: &str, model: &str) {
    assert!(TRAINING.contains("seed = 3"));
    let training = TRAINING.replace("seed = 3", &format!("seed = {seed}"));
    let config = format!("out = \"{name}\"\n{top}\n{training}{model}");
    std::fs::write(dir.join(format!("{name}.toml")), config).unwrap();
    ok(spectral(
        &["train", "--config", &format!("{name}.toml")],
        dir,
    ));
}

/// Splits the texts of a spectrum figure into its panels (each begins with its title, a
/// matrix role) and returns the legend entries of each.
fn panels(svg: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for t in texts(svg) {
        let c = t.content;
        if t.anchor == "middle"
            && (c.starts_with("blocks.*.") || c == "other Linear weights" || c == "embeddings")
        {
            out.push((c, Vec::new()));
        } else if c.starts_with("A: ") || c.starts_with("B: ") {
            out.last_mut()
                .expect("a legend under a panel title")
                .1
                .push(c);
        }
    }
    out
}

#[test]
fn spectrum_compare_draws_one_panel_per_role_with_at_most_8_curves() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::spacings(d, 600);
    // Five blocks: each role has 5 matrices × 2 files = 10 curves, more than a panel holds.
    let deep = MDN.replace("n_layer = 1", "n_layer = 5");
    assert_ne!(deep, MDN);
    train(d, "a", &deep);
    train_seeded(d, "b", 4, "", &deep);
    ok(spectral(
        &[
            "spectrum",
            "--ckpt",
            "a/best.safetensors",
            "--compare",
            "b/best.safetensors",
            "--out",
            "sp",
        ],
        d,
    ));
    let json: serde_json::Value = serde_json::from_str(&read(&d.join("sp/spectrum.json"))).unwrap();
    let matrices = |side: &str| json[side]["matrices"].as_array().unwrap().len();
    for figure in ["singular_values", "energy"] {
        let svg = read(&d.join("sp").join(format!("{figure}.svg")));
        check_ticks(&svg, figure);
        let panels = panels(&svg);
        assert!(panels.len() >= 7, "{figure}: {panels:?}");
        for (title, entries) in &panels {
            assert!(
                (1..=8).contains(&entries.len()),
                "{figure}, {title}: {} curves",
                entries.len()
            );
        }
        // Every matrix of both files has its curve, once.
        let all: Vec<&String> = panels.iter().flat_map(|(_, e)| e).collect();
        assert_eq!(all.len(), matrices("a") + matrices("b"), "{figure}");
        let q: Vec<&(String, Vec<String>)> = panels
            .iter()
            .filter(|(t, _)| t.starts_with("blocks.*.attn.q.weight"))
            .collect();
        assert_eq!(
            q.len(),
            2,
            "{figure}: the q projections split over two panels"
        );
        let sizes = (q[0].1.len(), q[1].1.len());
        assert!(
            sizes == (6, 4),
            "{figure}: blocks 0–2 and 3–4, got {sizes:?}"
        );
        assert!(q[0].1.contains(&"A: block 0".to_string()));
        assert!(q[1].1.contains(&"B: block 4".to_string()));
        assert!(
            !svg.contains("Σ_{"),
            "{figure}: no raw formula in the titles"
        );
    }
    // Uncompressed weights have no zero singular values: no note.
    assert!(!read(&d.join("sp/singular_values.svg")).contains("not shown"));
}

#[test]
fn spectrum_of_a_compressed_checkpoint_notes_the_zeros_it_leaves_out() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::spacings(d, 600);
    train(d, "a", MDN);
    ok(spectral(
        &[
            "compress",
            "--ckpt",
            "a/best.safetensors",
            "--rank",
            "2",
            "--out",
            "c.safetensors",
        ],
        d,
    ));
    ok(spectral(
        &["spectrum", "--ckpt", "c.safetensors", "--out", "sp"],
        d,
    ));
    // The zeros are the singular values at or below the f32 floor max(d_in, d_out)·2⁻²³·σ_1
    // of each matrix (rank-2 factors multiplied out: the rest are rounding noise).
    let json: serde_json::Value = serde_json::from_str(&read(&d.join("sp/spectrum.json"))).unwrap();
    let mut expected = 0;
    for m in json["matrices"].as_array().unwrap() {
        let s: Vec<f64> = serde_json::from_value(m["singular_values"].clone()).unwrap();
        let size = m["d_in"]
            .as_u64()
            .unwrap()
            .max(m["d_out"].as_u64().unwrap()) as f64;
        let floor = size * f64::from(f32::EPSILON) * s[0];
        expected += s.iter().filter(|&&x| x <= floor).count();
    }
    assert!(expected > 0, "rank 2 leaves zero singular values");
    let svg = read(&d.join("sp/singular_values.svg"));
    let noted: usize = texts(&svg)
        .iter()
        .filter_map(|t| t.content.strip_suffix(" zeros not shown (log axis)"))
        .map(|k| k.parse::<usize>().expect("a count"))
        .sum();
    assert_eq!(noted, expected, "the notes count every zero left out");
    assert!(
        svg.contains("f32 rounding floor"),
        "the note says what counts as zero"
    );
    check_ticks(&svg, "singular_values");
    // The zeros keep their place: the x axis still runs to i / r = 1.
    assert!(
        texts(&svg)
            .iter()
            .any(|t| t.anchor == "middle" && t.content == "1"),
        "an x tick at 1"
    );
    // The log axis is labelled in decades.
    assert!(texts(&svg).iter().any(|t| t.content.starts_with("10⁻")));
}

#[test]
fn plot_draws_train_and_val_curves_with_a_band_over_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::spacings(d, 600);
    // A training loss logged at every step, so that the band has a width to draw.
    let every_step = "log_interval = 1";
    train_seeded(d, "r_s3", 3, every_step, MDN);
    train_seeded(d, "r_s4", 4, every_step, MDN);
    let wider = MDN.replace("n_embd = 8", "n_embd = 16");
    assert_ne!(wider, MDN);
    train_seeded(d, "solo", 3, every_step, &wider);
    let out = ok(spectral(
        &["plot", "r_s3", "r_s4", "solo", "--out", "curves"],
        d,
    ));
    assert!(
        out.contains("curves.svg") && out.contains("curves.png"),
        "{out}"
    );
    let svg = read(&d.join("curves.svg"));
    check_ticks(&svg, "curves");
    let entries = legend(&svg, "curves");
    assert_eq!(
        entries,
        [
            "r train (2 seeds)",
            "r val (2 seeds)",
            "solo train",
            "solo val"
        ],
        "one entry per curve, the seeds as one"
    );
    assert!(svg.contains("<polygon"), "the two seeds' training band");
    assert!(svg.contains("sample std"), "the note says what the band is");
    // One run: its own curves, no band.
    ok(spectral(&["plot", "solo", "--out", "one"], d));
    let svg = read(&d.join("one.svg"));
    assert_eq!(legend(&svg, "one"), ["solo train", "solo val"]);
    assert!(!svg.contains("<polygon"));
}

//! `spectral::analyze` on a PyTorch state_dict fixture (made by
//! `bench/torch_state_dict_fixture.py`, singular values known by construction) and on our own
//! checkpoint layout.

use spectral::analyze::{Layout, Role, analyze_file, read_matrices, table, to_json, write_outputs};
use spectral::compress::LowRank;
use spectral::compress::format::insert_factors;
use spectral::optim::state::StateDict;
use std::path::Path;

fn fixture() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torch_state_dict.safetensors"
    ))
}

#[test]
fn torch_linear_weights_are_transposed_and_their_spectra_match_the_construction() {
    let bytes = std::fs::read(fixture()).unwrap();
    let raw = StateDict::from_safetensors(&bytes).unwrap();
    let oracle: serde_json::Value = serde_json::from_str(&raw.metadata["oracle"]).unwrap();
    let report = analyze_file(fixture()).unwrap();
    assert_eq!(report.layout, Layout::Torch);
    assert_eq!(
        report.matrices.len(),
        4,
        "3 Linear weights and 1 embedding; 1-D arrays skipped"
    );
    for m in &report.matrices {
        let want = &oracle[&m.stats.name];
        assert_eq!(
            m.stats.d_in,
            want["d_in"].as_u64().unwrap() as usize,
            "{}",
            m.stats.name
        );
        assert_eq!(m.stats.d_out, want["d_out"].as_u64().unwrap() as usize);
        let s: Vec<f64> = want["singular_values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(m.stats.singular_values.len(), s.len());
        for (got, want) in m.stats.singular_values.iter().zip(&s) {
            // The file holds f32: entries rounded to 2^-24 relative.
            assert!(
                (got - want).abs() < 2e-6 * s[0],
                "{}: {got} vs {want}",
                m.stats.name
            );
        }
        let role = if m.stats.name == "tok_emb.weight" {
            Role::Embedding
        } else {
            Role::Linear
        };
        assert_eq!(m.role, role);
    }
    // Entry (i, j) of burn's [d_in, d_out] is entry (j, i) of PyTorch's [out, in].
    let (_, matrices) = read_matrices(fixture()).unwrap();
    let fc = matrices.iter().find(|m| m.name == "mlp.fc.weight").unwrap();
    let (shape, values) = &raw.tensors["mlp.fc.weight"];
    assert_eq!(shape, &vec![12, 6]);
    assert_eq!((fc.w.nrows(), fc.w.ncols()), (6, 12));
    assert_eq!(fc.w[(1, 7)], values[7 * 6 + 1] as f64);
    // Modular norm: 4 atoms of unit mass; proj's term 4·√(12/6)·4 is the largest.
    let mn = &report.modular_norm;
    assert_eq!(mn.argmax, "mlp.proj.weight");
    assert!((mn.norm - 16.0 * 2f64.sqrt()).abs() < 1e-4, "{}", mn.norm);
    let fc_term = mn.terms.iter().find(|t| t.name == "mlp.fc.weight").unwrap();
    assert!((fc_term.coefficient - 4.0 * 0.5f64.sqrt()).abs() < 1e-12);
}

#[test]
fn our_checkpoints_keep_burns_layout_and_rebuild_factors() {
    let dir = tempfile::tempdir().unwrap();
    let mut dict = StateDict::default();
    dict.metadata.insert("config".into(), "".into());
    let w: Vec<f32> = (0..6 * 4).map(|p| ((p * 7) % 11) as f32 - 5.0).collect();
    dict.tensors.insert(
        "model/blocks.0.attn.q.weight".into(),
        (vec![6, 4], w.clone()),
    );
    dict.tensors
        .insert("optim/momentum".into(), (vec![6, 4], w.clone()));
    let a = faer::Mat::from_fn(4, 2, |i, j| (i + j) as f64);
    let b = faer::Mat::from_fn(2, 3, |i, j| (i * 3 + j) as f64 - 2.0);
    dict.tensors.insert(
        "model/blocks.0.mlp.fc.weight".into(),
        (vec![4, 3], vec![0.0; 12]),
    );
    insert_factors(&mut dict, "model/blocks.0.mlp.fc.weight", &LowRank { a, b });
    let path = dir.path().join("ckpt.safetensors");
    std::fs::write(&path, dict.to_safetensors().unwrap()).unwrap();
    let (layout, matrices) = read_matrices(&path).unwrap();
    assert_eq!(layout, Layout::Burn);
    let names: Vec<&str> = matrices.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["blocks.0.attn.q.weight", "blocks.0.mlp.fc.weight"]);
    assert_eq!((matrices[0].w.nrows(), matrices[0].w.ncols()), (6, 4));
    assert_eq!(matrices[0].w[(2, 3)], w[2 * 4 + 3] as f64);
    let report = analyze_file(&path).unwrap();
    assert_eq!(report.matrices[1].stats.rank_99, 2, "a rank-2 product");
    // Side by side with the PyTorch file, JSON and charts.
    let other = analyze_file(fixture()).unwrap();
    let text = table(&report, Some(&report));
    assert!(text.contains("blocks.0.attn.q.weight [B]") && text.contains("[A]"));
    let json: serde_json::Value = serde_json::from_str(&to_json(&report, Some(&other))).unwrap();
    assert_eq!(json["b"]["layout"], "torch");
    let written = write_outputs(&dir.path().join("out"), &report, Some(&other)).unwrap();
    assert_eq!(written.len(), 4);
    assert!(written.iter().all(|p| p.exists()));
}

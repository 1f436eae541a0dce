//! Every config shipped in `configs/` parses, validates, and says how its data are made.

use spectral_train::TrainConfig;

#[test]
fn every_shipped_config_parses_and_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config = TrainConfig::load(&path).unwrap_or_else(|e| panic!("{e}"));
            config
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 3, "found {seen} configs in {}", dir.display());
}

/// Every shipped SpacingMDN config says how its spacing file is made: a command in its header
/// comment writes the file the config (or its documented `--spacings`) names, or the header
/// names the bench script that makes it and passes it.
#[test]
fn every_shipped_config_says_how_its_data_is_made() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut checked = 0;
    for dir in ["configs", "configs/gpu"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let config = TrainConfig::load(&path).unwrap();
            let Some(spacings) = &config.data.spacings else {
                continue;
            };
            let text = std::fs::read_to_string(&path).unwrap();
            let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
            // The file the documented train line reads: its --spacings, else the config's.
            let documented = header
                .iter()
                .find_map(|l| l.split("--spacings ").nth(1))
                .and_then(|rest| rest.split_whitespace().next())
                .map_or(spacings.display().to_string(), str::to_string);
            let made = header
                .iter()
                .any(|l| l.contains(&format!("--out {documented}")));
            let script = header.iter().find_map(|l| {
                l.split_whitespace()
                    .map(|w| w.trim_matches(|c: char| "`(),.".contains(c)))
                    .find(|w| w.starts_with("bench/") && w.ends_with(".sh"))
            });
            if let Some(script) = script {
                assert!(root.join(script).is_file(), "{}: {script}", path.display());
                let body = std::fs::read_to_string(root.join(script)).unwrap();
                assert!(
                    body.contains("--spacings") || body.contains(&spacings.display().to_string()),
                    "{}: {script} neither passes --spacings nor makes {}",
                    path.display(),
                    spacings.display()
                );
            } else {
                assert!(
                    made,
                    "{}: no header line writes {documented} (`--out {documented}`)",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "checked {checked}");
}

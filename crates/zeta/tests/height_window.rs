//! A window of zeros at index 10¹² (t ≈ 2.7·10¹¹) through the whole pipeline: zeros into a
//! version-2 f64 file, unfolded by the smooth count at that height, and analyzed.

use spectral_zeta::series_file::{Format, Header, SeriesKind, SeriesReader, SeriesWriter};
use spectral_zeta::stats::report::StatsReport;
use spectral_zeta::unfold::{unfold_file, unfolded_spacing};

#[test]
fn a_window_at_index_ten_to_the_twelve_unfolds_to_mean_one_spacings() {
    let (first, count) = (1_000_000_000_000u64, 1_200u64);
    let dir = tempfile::tempdir().unwrap();
    let (zeros_path, spacings_path) = (dir.path().join("z.f64"), dir.path().join("s.f64"));
    let header = Header {
        kind: SeriesKind::Zeros,
        first_index: first,
        count,
    };
    let mut writer = SeriesWriter::create(&zeros_path, Format::F64, header).unwrap();
    let mut zeros = Vec::new();
    let verification = spectral_zeta::compute_zeros(first, count, |_, batch| {
        zeros.extend_from_slice(batch);
        writer.write(batch)
    })
    .unwrap();
    writer.finish().unwrap();
    assert!(verification.summary().contains("no zero missed"));

    let summary = unfold_file(&zeros_path, &spacings_path).unwrap();
    assert_eq!(summary.count, count - 1);
    // Mean spacing 1 up to the sampling error of 1199 spacings (standard deviation 0.42/√1199).
    assert!((summary.mean - 1.0).abs() < 0.05, "mean {}", summary.mean);
    // The file's spacings are those of the double-double zeros, up to the f64 deltas from the
    // base: each zero to half an ulp of its delta (2.8e-14 over this window's span of 280),
    // times the density ln(t/2π)/2π = 3.9. Zeros rounded to f64 would be off by up to 2e-4.
    let from_file = SeriesReader::open(&spacings_path)
        .unwrap()
        .read_all()
        .unwrap();
    for (i, spacing) in from_file.iter().enumerate() {
        let want = unfolded_spacing(zeros[i], zeros[i + 1]);
        assert!(
            (spacing - want).abs() < 2.5e-13,
            "δ_{}: {spacing} vs {want}",
            first + i as u64
        );
    }
    let report = StatsReport::of_file(&spacings_path, 1, 2).unwrap();
    assert_eq!(report.first_index, first);
    // The drift's height label is the Gram point near the block's middle zero, at t ≈ 2.7·10¹¹.
    let height = report.height_drift[0].height;
    assert!((height - 2.676_533_956e11).abs() < 1e3, "height {height}");
    // Gaudin's law, not Poisson's, even in 1199 spacings.
    assert!(
        report.zeros.ks.gaudin < 0.06 && report.zeros.ks.poisson > 0.15,
        "{:?}",
        report.zeros.ks
    );
}

//! Line charts written as both SVG and PNG (plotters), with an embedded font so that text
//! renders on machines without system fonts.

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// DejaVu Sans, see `data/fonts/SOURCE.md`.
static FONT: &[u8] = include_bytes!("../../../data/fonts/DejaVuSans.ttf");

#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("{path}: {message}")]
    Draw { path: PathBuf, message: String },
    #[error(transparent)]
    Write(#[from] spectral_io::IoError),
}

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mark {
    Line,
    /// Markers only, for measured points.
    Dots,
    /// Vertical bars of the given width centred on x (a histogram).
    Bars(f64),
}

/// One named series of `(x, y)` points.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub mark: Mark,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, mark: Mark) -> Self {
        Self {
            name: name.into(),
            points,
            mark,
        }
    }
}

/// A chart: title, axis labels and series; axes span the data.
#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(127, 127, 127),
];

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("embedded DejaVu font is valid"));
    });
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    chart: &Chart,
    y_range: Option<(f64, f64)>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let points = chart.series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0f64, f64::NEG_INFINITY);
    for &(x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0.is_infinite() {
        (x0, x1) = (0.0, 1.0); // no finite points
    } else if x1 <= x0 {
        (x0, x1) = (x0 - 0.5, x0 + 0.5);
    }
    if let Some((low, high)) = y_range {
        (y0, y1) = (low, high);
    }
    if y1 <= y0 {
        y1 = y0 + 1.0;
    }
    let pad = 0.05 * (y1 - y0);
    let mut context = ChartBuilder::on(root)
        .caption(&chart.title, ("sans-serif", 24))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, (y0 - if y0 < 0.0 { pad } else { 0.0 })..(y1 + pad))
        .map_err(|e| e.to_string())?;
    context
        .configure_mesh()
        .x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .label_style(("sans-serif", 15))
        .draw()
        .map_err(|e| e.to_string())?;
    let in_range =
        |&(_, y): &(f64, f64)| y_range.is_none_or(|(low, high)| (low..=high).contains(&y));
    for (i, series) in chart.series.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let points: Vec<(f64, f64)> = series.points.iter().copied().filter(in_range).collect();
        let legend = match series.mark {
            Mark::Line => context
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| e.to_string())?,
            Mark::Dots => context
                .draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| e.to_string())?,
            Mark::Bars(width) => context
                .draw_series(points.iter().map(|&(x, y)| {
                    Rectangle::new(
                        [(x - width / 2.0, 0.0), (x + width / 2.0, y)],
                        color.mix(0.35).filled(),
                    )
                }))
                .map_err(|e| e.to_string())?,
        };
        legend
            .label(series.name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], color.filled()));
    }
    context
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Chart size in pixels (width, height).
const SIZE: (u32, u32) = (900, 600);

/// Writes `stem.svg` and `stem.png` (900×600), each atomically (drawn in memory, then
/// [`spectral_io::write_atomic`]: a full disk leaves no truncated figure); returns both paths.
pub fn write_chart(stem: &Path, chart: &Chart) -> Result<[PathBuf; 2], PlotError> {
    write_chart_in(stem, chart, None)
}

/// [`write_chart`] with the y axis over `y_range = (low, high)` instead of the data's span
/// from 0 (points outside it are left out, e.g. the first steps of a loss curve).
pub fn write_chart_in(
    stem: &Path,
    chart: &Chart,
    y_range: Option<(f64, f64)>,
) -> Result<[PathBuf; 2], PlotError> {
    register_font();
    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |message| PlotError::Draw { path, message }
    };
    let mut text = String::new();
    draw(
        &SVGBackend::with_string(&mut text, SIZE).into_drawing_area(),
        chart,
        y_range,
    )
    .map_err(failed(&svg))?;
    spectral_io::write_atomic(&svg, text.as_bytes())?;
    let mut pixels = vec![0u8; SIZE.0 as usize * SIZE.1 as usize * 3];
    draw(
        &BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area(),
        chart,
        y_range,
    )
    .map_err(failed(&png))?;
    spectral_io::write_atomic(&png, &png_bytes(&pixels, SIZE).map_err(failed(&png))?)?;
    Ok([svg, png])
}

/// `pixels` (RGB, 8 bits a channel, rows top to bottom) encoded as a PNG file.
fn png_bytes(pixels: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(pixels).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_svg_with_text_and_a_nonblank_png() {
        let dir = tempfile::tempdir().unwrap();
        let chart = Chart {
            title: "sine".into(),
            x_label: "x".into(),
            y_label: "sin x".into(),
            series: vec![
                Series::new(
                    "curve",
                    (0..50)
                        .map(|i| (i as f64 / 8.0, (i as f64 / 8.0).sin()))
                        .collect(),
                    Mark::Line,
                ),
                Series::new("bars", vec![(1.0, 0.5), (2.0, 0.7)], Mark::Bars(0.5)),
            ],
        };
        let [svg, png] = write_chart(&dir.path().join("sine"), &chart).unwrap();
        let text = std::fs::read_to_string(svg).unwrap();
        assert!(text.contains("<svg") && text.contains("sine") && text.contains("curve"));
        let bytes = std::fs::read(png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        assert!(
            bytes.len() > 5_000,
            "a PNG with content, got {} bytes",
            bytes.len()
        );
        // It decodes to the chart's size: a white background with drawn (dark) pixels on it.
        let mut reader = png::Decoder::new(bytes.as_slice()).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height), SIZE);
        let rgb = pixels.chunks(3);
        let white = rgb.clone().filter(|p| p.iter().all(|&c| c == 255)).count();
        let dark = rgb.filter(|p| p.iter().all(|&c| c < 100)).count();
        let total = (SIZE.0 * SIZE.1) as usize;
        assert!(
            white > total / 2 && dark > 1_000,
            "{white} white, {dark} dark"
        );
        // Nothing but the two figures is left in the directory.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}

//! Charts written as both SVG and PNG (plotters), with an embedded font so that text
//! renders on machines without system fonts.
//!
//! A [`Chart`] is one panel: its title, an optional note under the title, the plot, and the
//! legend in a column right of the plot, never over the data. [`write_chart`] writes one
//! panel (960×600 pixels); [`write_figure`] several under one heading, in a grid of two
//! columns (720×450 each). Ticks are labelled by [`ticks`] (`20000`, `0.5`, `3.7×10⁸`, `10⁻⁸`).
//! A series may carry a spread (e.g. ± std over seeds): a band around a line, error bars on
//! dots. On a log y axis ([`Chart::log_y`]) values ≤ 0 cannot be drawn: they are left out
//! and a note under the title says how many.

pub mod ticks;

use plotters::coord::Shift;
use plotters::coord::ranged1d::Ranged;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};
use std::sync::Once;
use ticks::{TickFormat, tick_format, tick_label};

/// DejaVu Sans, see `data/fonts/SOURCE.md`.
static FONT: &[u8] = include_bytes!("../../../../data/fonts/DejaVuSans.ttf");

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
    /// A line through the points, for curves (theory, a loss logged every step).
    Line,
    /// Markers only, for measured points.
    Dots,
    /// Vertical bars of the given width centred on x (a histogram).
    Bars(f64),
}

/// One named series of `(x, y)` points. An empty name leaves it out of the legend.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub mark: Mark,
    /// `±spread[i]` around `points[i]` (e.g. the std over seeds): a band around a line,
    /// error bars on dots; ignored on a log axis and by bars.
    pub spread: Option<Vec<f64>>,
    /// Index into the palette; by default the series' rank among those without one.
    pub colour: Option<usize>,
    /// A dashed line (lines only). Series past the palette's 10 colours are dashed anyway.
    pub dashed: bool,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>, mark: Mark) -> Self {
        Self {
            name: name.into(),
            points,
            mark,
            spread: None,
            colour: None,
            dashed: false,
        }
    }

    /// With `±spread[i]` around each point (missing or non-finite entries count as 0).
    pub fn with_spread(mut self, spread: Vec<f64>) -> Self {
        self.spread = Some(spread);
        self
    }

    /// Drawn in palette colour `index` (modulo the palette), e.g. to give a run's training
    /// and validation curves one colour.
    pub fn colour(mut self, index: usize) -> Self {
        self.colour = Some(index);
        self
    }

    /// Drawn dashed (a line) instead of solid.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// A chart: title, axis labels and series; the x axis spans the data, the y axis too, from 0
/// when the data are non-negative and their least value is below half the largest (a density,
/// a variance of order one) and tight around them otherwise (a loss near 1.5).
#[derive(Clone, Debug)]
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    /// y on a log₁₀ axis over whole decades; values ≤ 0 are left out, with a note.
    pub log_y: bool,
    /// A line under the title (wrapped to the width) saying what a reader needs to know.
    pub note: Option<String>,
}

impl Chart {
    pub fn new(
        title: impl Into<String>,
        x_label: impl Into<String>,
        y_label: impl Into<String>,
        series: Vec<Series>,
    ) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series,
            log_y: false,
            note: None,
        }
    }

    /// With y on a log axis.
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// With a note under the title.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.note = Some(note.into());
        self
    }
}

/// Ten colours that stay apart on white (matplotlib's `tab10`).
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Size of one chart and of each panel of a figure, in pixels (width, height).
const SIZE: (u32, u32) = (960, 600);
const PANEL: (u32, u32) = (720, 450);
/// Most ticks on the x axis (plotters picks a round step that gives at most this many).
const X_TICKS: usize = 9;
const Y_TICKS: usize = 8;
const FONT_TEXT: u32 = 15;
const NOTE_GREY: RGBColor = RGBColor(80, 80, 80);
/// Legend rows, and the swatch's width before the label.
const ROW: i32 = 22;
const SWATCH: i32 = 30;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .unwrap_or_else(|_| panic!("embedded DejaVu font is valid"));
    });
}

/// A series as drawn: points in plot coordinates (log₁₀ y on a log axis), the band or bars'
/// `(low, high)` per point, and its style.
struct Drawn<'a> {
    name: &'a str,
    mark: Mark,
    points: Vec<(f64, f64)>,
    spread: Option<Vec<(f64, f64)>>,
    colour: RGBColor,
    dashed: bool,
}

/// What [`prepare`] makes of a chart's series.
struct Prepared<'a> {
    drawn: Vec<Drawn<'a>>,
    /// The x span of every finite point, drawn or not: a log axis' zeros keep their place.
    x_span: (f64, f64),
    /// Values ≤ 0 a log axis left out, and how many of them are exact zeros.
    dropped: usize,
    zeros: usize,
}

/// The chart's series in plot coordinates. With `y_range`, points outside it are left out.
fn prepare(chart: &Chart, y_range: Option<(f64, f64)>) -> Prepared<'_> {
    let (mut dropped, mut zeros, mut auto) = (0, 0, 0);
    let mut x_span = (f64::INFINITY, f64::NEG_INFINITY);
    let mut drawn = Vec::new();
    for series in &chart.series {
        let index = series.colour.unwrap_or_else(|| {
            auto += 1;
            auto - 1
        });
        let mut points = Vec::new();
        let mut spread = Vec::new();
        for (i, &(x, y)) in series.points.iter().enumerate() {
            if !(x.is_finite() && y.is_finite()) {
                continue;
            }
            x_span = (x_span.0.min(x), x_span.1.max(x));
            if y_range.is_some_and(|(low, high)| !(low..=high).contains(&y)) {
                continue;
            }
            if chart.log_y {
                if y <= 0.0 {
                    dropped += 1;
                    zeros += usize::from(y == 0.0);
                    continue;
                }
                points.push((x, y.log10()));
                continue;
            }
            let s = series
                .spread
                .as_ref()
                .and_then(|s| s.get(i))
                .copied()
                .filter(|s| s.is_finite())
                .unwrap_or(0.0)
                .abs();
            let (mut low, mut high) = (y - s, y + s);
            if let Some((a, b)) = y_range {
                (low, high) = (low.max(a), high.min(b));
            }
            points.push((x, y));
            spread.push((low, high));
        }
        let has_spread =
            series.spread.is_some() && !chart.log_y && !matches!(series.mark, Mark::Bars(_));
        drawn.push(Drawn {
            name: &series.name,
            mark: series.mark,
            points,
            spread: has_spread.then_some(spread),
            colour: PALETTE[index % PALETTE.len()],
            dashed: series.dashed || index >= PALETTE.len(),
        });
    }
    Prepared {
        drawn,
        x_span,
        dropped,
        zeros,
    }
}

/// The plot's x and y ranges: the data's, bars' widths included, and 2 % more each side
/// when there are dots (a dot at the edge is not cut in half); y from 0 or tight (see
/// [`Chart`]), or `y_range`; on a log axis whole decades.
fn ranges(
    prepared: &Prepared,
    log_y: bool,
    y_range: Option<(f64, f64)>,
) -> ((f64, f64), (f64, f64)) {
    let drawn = &prepared.drawn;
    let ((mut x0, mut x1), mut y0, mut y1) = (prepared.x_span, f64::INFINITY, f64::NEG_INFINITY);
    for d in drawn {
        let half = match d.mark {
            Mark::Bars(width) => width / 2.0,
            _ => 0.0,
        };
        for (i, &(x, y)) in d.points.iter().enumerate() {
            let (low, high) = d.spread.as_ref().map_or((y, y), |s| s[i]);
            (x0, x1) = (x0.min(x - half), x1.max(x + half));
            (y0, y1) = (y0.min(low.min(y)), y1.max(high.max(y)));
            if matches!(d.mark, Mark::Bars(_)) && !log_y {
                y0 = y0.min(0.0);
            }
        }
    }
    if x0.is_infinite() {
        (x0, x1) = (0.0, 1.0); // no finite points
    } else if x1 <= x0 {
        (x0, x1) = (x0 - 0.5, x0 + 0.5);
    } else if drawn.iter().any(|d| d.mark == Mark::Dots) {
        let pad = 0.02 * (x1 - x0);
        (x0, x1) = (x0 - pad, x1 + pad);
    }
    if let Some(range) = y_range {
        return ((x0, x1), range);
    }
    if y0.is_infinite() {
        (y0, y1) = (0.0, 1.0);
    }
    if log_y {
        let (low, high) = (y0.floor(), y1.ceil());
        return ((x0, x1), (low, if high > low { high } else { low + 1.0 }));
    }
    if y0 >= 0.0 && y0 < 0.5 * y1 {
        y0 = 0.0;
    }
    if y1 <= y0 {
        (y0, y1) = (y0 - 0.5, y0 + 0.5);
    }
    let pad = 0.05 * (y1 - y0);
    ((x0, x1), (if y0 == 0.0 { 0.0 } else { y0 - pad }, y1 + pad))
}

fn text_width<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str, size: u32) -> u32 {
    area.estimate_text_size(text, &TextStyle::from(("sans-serif", size).into_font()))
        .map_or(text.chars().count() as u32 * size / 2, |(w, _)| w)
}

/// `text` cut to `width` pixels, with `…` where it was cut.
fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: u32,
    width: u32,
) -> String {
    if text_width(area, text, size) <= width {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let cut: String = chars.iter().collect::<String>() + "…";
        if text_width(area, &cut, size) <= width {
            return cut;
        }
    }
    "…".into()
}

/// `text` broken at spaces into lines of at most `width` pixels.
fn wrap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    size: u32,
    width: u32,
) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split(' ') {
        match lines.last_mut() {
            Some(line) if text_width(area, &format!("{line} {word}"), size) <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// One chart into `area`: title, notes, plot, legend column.
fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
    y_range: Option<(f64, f64)>,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (width, _) = area.dim_in_pixel();
    let prepared = prepare(chart, y_range);
    let (drawn, dropped, zeros) = (&prepared.drawn, prepared.dropped, prepared.zeros);
    let mut area = area.titled(&chart.title, ("sans-serif", 22)).map_err(e)?;
    let mut notes: Vec<String> = chart.note.iter().cloned().collect();
    if dropped > 0 {
        let what = if zeros == dropped {
            if dropped == 1 { "zero" } else { "zeros" }
        } else if dropped == 1 {
            "value ≤ 0"
        } else {
            "values ≤ 0"
        };
        notes.push(format!("{dropped} {what} not shown (log axis)"));
    }
    for note in &notes {
        for line in wrap(&area, note, 14, width.saturating_sub(24)) {
            area = area
                .titled(&line, ("sans-serif", 14).into_font().color(&NOTE_GREY))
                .map_err(e)?;
        }
    }
    // The legend column: as wide as the longest name, at most 40 % of the panel.
    let named: Vec<&Drawn> = drawn.iter().filter(|d| !d.name.is_empty()).collect();
    let longest = named
        .iter()
        .map(|d| text_width(&area, d.name, FONT_TEXT))
        .max();
    let legend_width = longest.map_or(0, |w| (w + SWATCH as u32 + 24).min(width * 2 / 5));
    let (plot, legend) = area.split_horizontally(width - legend_width);

    let ((x0, x1), (y0, y1)) = ranges(&prepared, chart.log_y, y_range);
    let x_format = tick_format(&RangedCoordf64::from(x0..x1).key_points(X_TICKS));
    let y_ticks = if chart.log_y {
        ((y1 - y0) as usize + 1).min(11)
    } else {
        Y_TICKS
    };
    let y_values = RangedCoordf64::from(y0..y1).key_points(y_ticks);
    let y_format = if chart.log_y {
        TickFormat::PowerOfTen
    } else {
        tick_format(&y_values)
    };
    let y_label_width = y_values
        .iter()
        .map(|&v| text_width(&plot, &tick_label(v, y_format), FONT_TEXT))
        .max()
        .unwrap_or(0);
    let mut context = ChartBuilder::on(&plot)
        .margin(10)
        .x_label_area_size(46)
        .y_label_area_size(y_label_width + 34)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(e)?;
    let x_formatter = |v: &f64| tick_label(*v, x_format);
    let y_formatter = |v: &f64| tick_label(*v, y_format);
    let mut mesh = context.configure_mesh();
    mesh.x_desc(chart.x_label.as_str())
        .y_desc(chart.y_label.as_str())
        .label_style(("sans-serif", FONT_TEXT))
        .axis_desc_style(("sans-serif", FONT_TEXT + 1))
        .x_labels(X_TICKS)
        .y_labels(y_ticks)
        .x_label_formatter(&x_formatter)
        .y_label_formatter(&y_formatter);
    if chart.log_y {
        mesh.y_max_light_lines(0); // no lines between decades
    }
    mesh.draw().map_err(e)?;

    // Areas first (bands, bars), then lines, then dots, so nothing hides a line or a point.
    for d in drawn {
        let colour = d.colour;
        match (d.mark, &d.spread) {
            (Mark::Line, Some(spread)) if d.points.len() > 1 => {
                let upper = d
                    .points
                    .iter()
                    .zip(spread)
                    .map(|(&(x, _), &(_, high))| (x, high));
                let lower = d
                    .points
                    .iter()
                    .zip(spread)
                    .map(|(&(x, _), &(low, _))| (x, low));
                let outline: Vec<(f64, f64)> = upper.chain(lower.rev()).collect();
                context
                    .draw_series(std::iter::once(Polygon::new(
                        outline,
                        colour.mix(0.2).filled(),
                    )))
                    .map_err(e)?;
            }
            (Mark::Bars(width), _) => {
                let base = 0f64.clamp(y0, y1);
                context
                    .draw_series(d.points.iter().map(|&(x, y)| {
                        Rectangle::new(
                            [(x - width / 2.0, base), (x + width / 2.0, y)],
                            colour.mix(0.35).filled(),
                        )
                    }))
                    .map_err(e)?;
            }
            _ => {}
        }
    }
    for d in drawn.iter().filter(|d| d.mark == Mark::Line) {
        let style = d.colour.stroke_width(2);
        if d.dashed {
            context
                .draw_series(DashedLineSeries::new(d.points.clone(), 9, 5, style))
                .map_err(e)?;
        } else {
            context
                .draw_series(LineSeries::new(d.points.clone(), style))
                .map_err(e)?;
        }
    }
    for d in drawn {
        let colour = d.colour;
        // Error bars: on dots, and on a line of one point (no band to draw).
        if let Some(spread) = d
            .spread
            .as_ref()
            .filter(|_| d.mark == Mark::Dots || (d.mark == Mark::Line && d.points.len() == 1))
        {
            context
                .draw_series(d.points.iter().zip(spread).map(|(&(x, _), &(low, high))| {
                    PathElement::new(vec![(x, low), (x, high)], colour.stroke_width(1))
                }))
                .map_err(e)?;
        }
        // A line through one point would not show: it is drawn as a dot.
        if d.mark == Mark::Dots || (d.mark == Mark::Line && d.points.len() == 1) {
            context
                .draw_series(d.points.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                .map_err(e)?;
        }
    }
    draw_legend(&legend, &named)
}

/// The legend column: one row per named series, a swatch drawn as the series is (line,
/// dashed line, band, dot, error bar, bar) and its name; rows that do not fit are counted.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    named: &[&Drawn],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (width, height) = area.dim_in_pixel();
    let fits = ((height as i32 - 20) / ROW).max(1) as usize;
    let shown = if named.len() > fits {
        fits - 1
    } else {
        named.len()
    };
    let text_style = TextStyle::from(("sans-serif", FONT_TEXT).into_font())
        .pos(Pos::new(HPos::Left, VPos::Center));
    let label_width = width.saturating_sub(SWATCH as u32 + 12);
    for (row, d) in named.iter().take(shown).enumerate() {
        let y = 20 + row as i32 * ROW;
        let (left, right, middle) = (4, 4 + SWATCH - 6, 4 + (SWATCH - 6) / 2);
        let c = d.colour;
        match d.mark {
            Mark::Line => {
                if d.spread.is_some() {
                    area.draw(&Rectangle::new(
                        [(left, y - 7), (right, y + 7)],
                        c.mix(0.2).filled(),
                    ))
                    .map_err(e)?;
                }
                let segments = if d.dashed {
                    vec![(left, middle - 2), (middle + 3, right)]
                } else {
                    vec![(left, right)]
                };
                for (a, b) in segments {
                    area.draw(&PathElement::new(vec![(a, y), (b, y)], c.stroke_width(2)))
                        .map_err(e)?;
                }
            }
            Mark::Dots => {
                if d.spread.is_some() {
                    area.draw(&PathElement::new(
                        vec![(middle, y - 7), (middle, y + 7)],
                        c.stroke_width(1),
                    ))
                    .map_err(e)?;
                }
                area.draw(&Circle::new((middle, y), 3, c.filled()))
                    .map_err(e)?;
            }
            Mark::Bars(_) => {
                area.draw(&Rectangle::new(
                    [(left + 2, y - 6), (right - 2, y + 6)],
                    c.mix(0.35).filled(),
                ))
                .map_err(e)?;
            }
        }
        area.draw_text(
            &fit(area, d.name, FONT_TEXT, label_width),
            &text_style,
            (SWATCH + 4, y),
        )
        .map_err(e)?;
    }
    if shown < named.len() {
        let y = 20 + shown as i32 * ROW;
        let more = format!("… and {} more", named.len() - shown);
        area.draw_text(&more, &text_style, (SWATCH + 4, y))
            .map_err(e)?;
    }
    Ok(())
}

/// What one image holds: one chart, or a heading over a grid of charts.
enum Layout<'a> {
    Single(&'a Chart, Option<(f64, f64)>),
    Grid(&'a str, &'a [Chart]),
}

impl Layout<'_> {
    const COLUMNS: usize = 2;

    fn size(&self) -> (u32, u32) {
        match self {
            Layout::Single(..) => SIZE,
            Layout::Grid(_, panels) => {
                let columns = panels.len().clamp(1, Self::COLUMNS);
                let rows = panels.len().div_ceil(columns).max(1);
                (columns as u32 * PANEL.0, 44 + rows as u32 * PANEL.1)
            }
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        match self {
            Layout::Single(chart, y_range) => draw_panel(root, chart, *y_range)?,
            Layout::Grid(heading, panels) => {
                let body = root
                    .titled(heading, ("sans-serif", 26))
                    .map_err(|e| e.to_string())?;
                let columns = panels.len().clamp(1, Self::COLUMNS);
                let rows = panels.len().div_ceil(columns).max(1);
                for (cell, chart) in body.split_evenly((rows, columns)).iter().zip(*panels) {
                    draw_panel(cell, chart, None)?;
                }
            }
        }
        root.present().map_err(|e| e.to_string())
    }
}

/// Writes `stem.svg` and `stem.png` (960×600), each atomically (drawn in memory, then
/// [`spectral_io::write_atomic`]: a full disk leaves no truncated figure); returns both paths.
pub fn write_chart(stem: &Path, chart: &Chart) -> Result<[PathBuf; 2], PlotError> {
    write_layout(stem, &Layout::Single(chart, None))
}

/// [`write_chart`] with the y axis over `y_range = (low, high)` instead of the data's span
/// (points outside it are left out, e.g. the first steps of a loss curve).
pub fn write_chart_in(
    stem: &Path,
    chart: &Chart,
    y_range: Option<(f64, f64)>,
) -> Result<[PathBuf; 2], PlotError> {
    write_layout(stem, &Layout::Single(chart, y_range))
}

/// `heading` over `panels` in a grid of two columns (720×450 pixels each), as `stem.svg` and
/// `stem.png`, like [`write_chart`].
pub fn write_figure(
    stem: &Path,
    heading: &str,
    panels: &[Chart],
) -> Result<[PathBuf; 2], PlotError> {
    write_layout(stem, &Layout::Grid(heading, panels))
}

fn write_layout(stem: &Path, layout: &Layout) -> Result<[PathBuf; 2], PlotError> {
    register_font();
    let svg = stem.with_extension("svg");
    let png = stem.with_extension("png");
    let failed = |path: &Path| {
        let path = path.to_path_buf();
        move |message| PlotError::Draw { path, message }
    };
    let size = layout.size();
    let mut text = String::new();
    layout
        .draw(&SVGBackend::with_string(&mut text, size).into_drawing_area())
        .map_err(failed(&svg))?;
    spectral_io::write_atomic(&svg, text.as_bytes())?;
    let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
    layout
        .draw(&BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area())
        .map_err(failed(&png))?;
    spectral_io::write_atomic(&png, &png_bytes(&pixels, size).map_err(failed(&png))?)?;
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
        let chart = Chart::new(
            "sine",
            "x",
            "sin x",
            vec![
                Series::new(
                    "curve",
                    (0..50)
                        .map(|i| (i as f64 / 8.0, (i as f64 / 8.0).sin()))
                        .collect(),
                    Mark::Line,
                ),
                Series::new("bars", vec![(1.0, 0.5), (2.0, 0.7)], Mark::Bars(0.5)),
            ],
        );
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

    #[test]
    fn a_log_axis_leaves_zeros_out_keeps_their_place_and_says_so() {
        let chart = Chart::new(
            "spectrum",
            "i",
            "σ",
            vec![Series::new(
                "σ",
                vec![(1.0, 1.0), (2.0, 0.01), (3.0, 0.0), (4.0, 0.0)],
                Mark::Line,
            )],
        )
        .log_y();
        let prepared = prepare(&chart, None);
        assert_eq!((prepared.dropped, prepared.zeros), (2, 2));
        let ys: Vec<f64> = prepared.drawn[0].points.iter().map(|p| p.1).collect();
        assert!(
            ys.len() == 2 && ys[0] == 0.0 && (ys[1] + 2.0).abs() < 1e-15,
            "{ys:?}"
        );
        // x still spans the zeros; y is whole decades.
        assert_eq!(ranges(&prepared, true, None), ((1.0, 4.0), (-2.0, 0.0)));
        let dir = tempfile::tempdir().unwrap();
        let [svg, _] = write_chart(&dir.path().join("log"), &chart).unwrap();
        let text = std::fs::read_to_string(svg).unwrap();
        assert!(text.contains("2 zeros not shown (log axis)"));
        assert!(
            text.contains("10⁻²") && text.contains("10⁻¹"),
            "decade ticks"
        );
    }

    #[test]
    fn the_y_axis_starts_at_zero_only_when_zero_is_near() {
        let y_range = |ys: &[f64]| {
            let chart = Chart::new(
                "",
                "",
                "",
                vec![Series::new(
                    "",
                    ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect(),
                    Mark::Line,
                )],
            );
            ranges(&prepare(&chart, None), false, None).1
        };
        assert_eq!(y_range(&[0.2, 1.0]).0, 0.0, "a density starts at 0");
        let (low, high) = y_range(&[0.162, 0.168]);
        assert!(
            low > 0.16 && low < 0.162 && high > 0.168 && high < 0.17,
            "a variance near 0.165 is zoomed on: {low}..{high}"
        );
        assert!(
            y_range(&[-0.35, 0.05]).0 < -0.35,
            "negative values get a margin"
        );
    }

    #[test]
    fn a_spread_is_a_band_around_a_line_and_bars_on_dots() {
        let points: Vec<(f64, f64)> = (0..10)
            .map(|i| (i as f64, 1.0 / (1.0 + i as f64)))
            .collect();
        let chart = |mark| {
            Chart::new(
                "seeds",
                "step",
                "loss",
                vec![Series::new("mean", points.clone(), mark).with_spread(vec![0.05; 10])],
            )
        };
        let dir = tempfile::tempdir().unwrap();
        let svg = |chart: &Chart, name: &str| {
            let [svg, _] = write_chart(&dir.path().join(name), chart).unwrap();
            std::fs::read_to_string(svg).unwrap()
        };
        let line = svg(&chart(Mark::Line), "line");
        assert_eq!(line.matches("<polygon").count(), 1, "one band");
        let dots = svg(&chart(Mark::Dots), "dots");
        assert!(!dots.contains("<polygon"));
        // Ten error bars and the legend's: vertical two-point paths beyond those of the same
        // dots without a spread (the x axis' tick marks are vertical two-point paths too).
        let vertical = |svg: &str| {
            svg.split("points=\"")
                .skip(1)
                .filter(|rest| {
                    let pts: Vec<&str> =
                        rest.split('"').next().unwrap().split_whitespace().collect();
                    pts.len() == 2 && pts[0].split(',').next() == pts[1].split(',').next()
                })
                .count()
        };
        let plain = Chart::new(
            "seeds",
            "step",
            "loss",
            vec![Series::new("mean", points.clone(), Mark::Dots)],
        );
        assert_eq!(vertical(&dots) - vertical(&svg(&plain, "plain")), 10 + 1);
    }
}

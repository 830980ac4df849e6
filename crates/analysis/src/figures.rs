//! Figures drawn with plotters, each once as SVG (kept as a string for the HTML report) and
//! once as PNG. Text is measured with an embedded DejaVu Sans (ab_glyph), so no system fonts
//! are needed.
//!
//! Key design decision: every drawing function takes a scale `s` and multiplies each length it
//! uses (font sizes, margins, strokes, markers) by it, so one layout serves both outputs. The
//! SVG is 720 × 480 user units (`s = 1`); the PNG is the same figure at its print size,
//! 6.5 in × 4.33 in (a page's text width) at 300 dpi — 1950 × 1300 pixels, `s = 1950 / 720` —
//! and says so in its `pHYs` chunk (11811 pixels per metre), so a word processor places it at
//! that size with text and lines as thick as in the SVG. plotters draws into a buffer and the
//! `png` crate writes it, since plotters' own encoder writes no resolution.
//!
//! Category labels on the x axis (cells, sample sizes) are laid out here rather than by
//! plotters, which would draw them on top of each other when they are long: each label gets
//! its slot's width; labels too wide for it are wrapped at `:` (between factor levels) and
//! spaces, and when even that does not fit they are turned vertical — one line, or one line
//! per factor level side by side when the slot has room — each level shortened with an
//! ellipsis to the label area's height, and thinned to every k-th label when the slots are
//! narrower than a line of text ([`layout_x_labels`]).

use std::path::Path;
use std::sync::Once;

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform};

use crate::error::AnalysisError;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
/// The SVG's size in user units (CSS pixels inline in the report).
const SVG_SIZE: (u32, u32) = (720, 480);
/// The PNG's resolution, dots per inch.
pub const PNG_DPI: u32 = 300;
/// The PNG's print size in inches: 6.5 in wide (the text width of a US letter page with 1-inch
/// margins), with the SVG's aspect ratio.
pub const PNG_INCHES: (f64, f64) = (6.5, 6.5 * 480.0 / 720.0);
/// The PNG's size in pixels: its print size at [`PNG_DPI`] (1950 × 1300).
pub const PNG_SIZE: (u32, u32) = (1950, 1300);
/// How much larger the PNG's lengths are than the SVG's.
const PNG_SCALE: f64 = PNG_SIZE.0 as f64 / SVG_SIZE.0 as f64;
/// [`PNG_DPI`] in pixels per metre, as the PNG `pHYs` chunk states resolution.
pub const PNG_PIXELS_PER_METRE: u32 = 11811;
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The font is a valid TTF shipped with the crate; a failure here would show as
        // missing text, never as a wrong number.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// The title's font: 20 units, smaller (down to 12) when the title would not fit the width.
fn title_font<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: f64,
    title: &str,
) -> (&'static str, f64) {
    let room = f64::from(root.dim_in_pixel().0) - 2.0 * 12.0 * s;
    let width = root
        .estimate_text_size(title, &TextStyle::from(font(s, 20.0)))
        .map_or(0.0, |(w, _)| f64::from(w));
    if width <= room {
        font(s, 20.0)
    } else {
        font(s, (20.0 * room / width).max(12.0))
    }
}

/// Every figure's axes: labels and descriptions at 14 pt, 5-pt ticks, a 1-pt black frame, light
/// grid lines (scaled by `s`, the figure's print scale).
fn house_mesh<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
    s: f64,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged,
    Y: Ranged,
    DB: DrawingBackend,
{
    mesh.label_style(font(s, 14.0))
        .axis_desc_style(font(s, 14.0))
        .set_all_tick_mark_size(px(s, 5.0))
        .axis_style(BLACK.stroke_width(px(s, 1.0)))
        .bold_line_style(BLACK.mix(0.12).stroke_width(px(s, 1.0)))
        .light_line_style(BLACK.mix(0.05).stroke_width(px(s, 1.0)))
        .max_light_lines(1)
}

/// `v` SVG units at scale `s`, in whole pixels (at least 1).
fn px(s: f64, v: f64) -> u32 {
    (v * s).round().max(1.0) as u32
}

/// The figures' font at `size` SVG units and scale `s`.
fn font(s: f64, size: f64) -> (&'static str, f64) {
    ("sans-serif", size * s)
}

/// One point with an interval, labelled.
#[derive(Debug, Clone)]
pub struct MeanPoint {
    /// Label on the x axis.
    pub label: String,
    /// Mean.
    pub mean: f64,
    /// Interval lower bound.
    pub lower: f64,
    /// Interval upper bound.
    pub upper: f64,
}

/// One series of a time course: the mean and a ribbon per time point.
#[derive(Debug, Clone)]
pub struct Ribbon {
    /// Series label (condition).
    pub label: String,
    /// (time, mean, lower, upper), sorted by time.
    pub points: Vec<(f64, f64, f64, f64)>,
}

/// A drawn figure: its SVG text, and the files written.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File stem (`cell_means`, ...).
    pub name: String,
    /// Caption for the report.
    pub caption: String,
    /// The SVG document.
    pub svg: String,
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn fail(name: &str) -> impl Fn(String) -> AnalysisError + '_ {
    move |message| AnalysisError::Figure {
        name: name.to_string(),
        message,
    }
}

/// Writes an RGB buffer of [`PNG_SIZE`] as a PNG whose `pHYs` chunk says [`PNG_DPI`].
fn write_png(path: &Path, rgb: &[u8]) -> Result<(), AnalysisError> {
    let io = |source| AnalysisError::Io {
        path: path.to_path_buf(),
        source,
    };
    let encode = |e: png::EncodingError| AnalysisError::Figure {
        name: path.display().to_string(),
        message: e.to_string(),
    };
    let file = std::fs::File::create(path).map_err(io)?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), PNG_SIZE.0, PNG_SIZE.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_pixel_dims(Some(png::PixelDimensions {
        xppu: PNG_PIXELS_PER_METRE,
        yppu: PNG_PIXELS_PER_METRE,
        unit: png::Unit::Meter,
    }));
    let mut writer = encoder.write_header().map_err(encode)?;
    writer.write_image_data(rgb).map_err(encode)?;
    writer.finish().map_err(encode)
}

macro_rules! both_backends {
    ($name:expr, $caption:expr, $out_dir:expr, $draw:ident, $($arg:expr),*) => {{
        register_font();
        let name: &str = $name;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SVG_SIZE).into_drawing_area();
            $draw(&root, 1.0, $($arg),*).map_err(|e| fail(name)(e.to_string()))?;
            root.present().map_err(|e| fail(name)(e.to_string()))?;
        }
        if let Some(dir) = $out_dir {
            let mut rgb = vec![0u8; PNG_SIZE.0 as usize * PNG_SIZE.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, PNG_SIZE).into_drawing_area();
                $draw(&root, PNG_SCALE, $($arg),*).map_err(|e| fail(name)(e.to_string()))?;
                root.present().map_err(|e| fail(name)(e.to_string()))?;
            }
            write_png(&dir.join(format!("{name}.png")), &rgb)?;
            let svg_path = dir.join(format!("{name}.svg"));
            std::fs::write(&svg_path, &svg).map_err(|source| AnalysisError::Io { path: svg_path, source })?;
        }
        Ok(Figure { name: name.to_string(), caption: $caption.to_string(), svg })
    }};
}

/// How the labels of a categorical x axis are drawn (see the module docs).
#[derive(Debug, Clone, PartialEq)]
struct XLabels {
    /// The lines of each label (several when wrapped), shortened with `…` where needed; no
    /// lines for a label left out to thin a crowded axis.
    lines: Vec<Vec<String>>,
    /// Drawn vertically (reading downwards from the axis).
    rotated: bool,
    /// Height of the label area below the plot, in pixels.
    area: f64,
}

/// The longest prefix of `text` that, followed by `…`, is at most `max` wide (`…` alone when
/// none is); `text` itself when it fits.
fn shorten(text: &str, max: f64, width: &dyn Fn(&str) -> f64) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut keep = chars.len();
    while keep > 0 {
        keep -= 1;
        let candidate: String = chars[..keep]
            .iter()
            .collect::<String>()
            .trim_end()
            .to_string()
            + "…";
        if width(&candidate) <= max {
            return candidate;
        }
    }
    "…".to_string()
}

/// `label` broken into lines at most `max` wide, after `:` and at spaces; a piece wider than
/// `max` on its own is shortened.
fn wrap(label: &str, max: f64, width: &dyn Fn(&str) -> f64) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    let mut piece = String::new();
    for c in label.chars() {
        piece.push(c);
        if c == ':' || c == ' ' {
            pieces.push(std::mem::take(&mut piece));
        }
    }
    if !piece.is_empty() {
        pieces.push(piece);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for piece in pieces {
        let joined = format!("{line}{piece}");
        if line.is_empty() || width(joined.trim_end()) <= max {
            line = joined;
        } else {
            lines.push(shorten(line.trim_end(), max, width));
            line = piece;
        }
    }
    if !line.trim_end().is_empty() {
        lines.push(shorten(line.trim_end(), max, width));
    }
    lines
}

/// Lays out `labels`, one per slot `slot` pixels wide, in text `line` pixels high whose width
/// `width` measures, with a label area no higher than `max_area` (module docs).
fn layout_x_labels(
    labels: &[String],
    slot: f64,
    line: f64,
    max_area: f64,
    width: &dyn Fn(&str) -> f64,
) -> XLabels {
    let pad = 0.5 * line;
    // Room between neighbouring labels.
    let room = slot - pad;
    if labels.iter().all(|l| width(l) <= room) {
        return XLabels {
            lines: labels.iter().map(|l| vec![l.clone()]).collect(),
            rotated: false,
            area: line + 2.0 * pad,
        };
    }
    const MAX_LINES: usize = 3;
    if room >= width("abcd…") {
        let wrapped: Vec<Vec<String>> = labels.iter().map(|l| wrap(l, room, width)).collect();
        let most = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        // Wrapping is kept only when it shortened no more than it must: a label cut to an
        // ellipsis on every line reads worse than the same label turned vertical.
        let cut = wrapped.iter().flatten().any(|l| l.ends_with('…'));
        if most <= MAX_LINES && !cut {
            return XLabels {
                lines: wrapped,
                rotated: false,
                area: most as f64 * line + 2.0 * pad,
            };
        }
    }
    // Vertical: every k-th label when a slot is narrower than a line; as many lines (columns,
    // once turned) as the slot has room for, each no longer than the area allows.
    let every = ((line + pad) / slot).ceil().max(1.0) as usize;
    let columns = (((slot * every as f64 - pad) / line).floor() as usize).clamp(1, MAX_LINES);
    let longest = max_area - 2.0 * pad;
    let lines: Vec<Vec<String>> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i % every != 0 {
                return Vec::new();
            }
            // One line when it fits; else one line per level of a cell key when they all
            // have a column, each level shortened on its own; else wrapped, if that needs no
            // cut; else one line shortened level by level.
            if width(l) <= longest {
                return vec![l.clone()];
            }
            let levels: Vec<&str> = l.split(':').collect();
            if levels.len() > 1 && levels.len() <= columns {
                let last = levels.len() - 1;
                return levels
                    .iter()
                    .enumerate()
                    .map(|(k, level)| {
                        if k < last {
                            let colon = width(":");
                            format!("{}:", shorten(level, longest - colon, width))
                        } else {
                            shorten(level, longest, width)
                        }
                    })
                    .collect();
            }
            let wrapped = wrap(l, longest, width);
            if wrapped.len() <= columns && !wrapped.iter().any(|x| x.ends_with('…')) {
                wrapped
            } else {
                vec![shorten_key(l, longest, width)]
            }
        })
        .collect();
    let tallest = lines.iter().flatten().map(|l| width(l)).fold(0.0, f64::max);
    XLabels {
        lines,
        rotated: true,
        area: tallest + 2.0 * pad,
    }
}

/// `label` (levels joined by `:`) shortened to at most `max` wide by cutting its longest
/// level first, so every level keeps its beginning (`arousing orch…:chase sc…`).
fn shorten_key(label: &str, max: f64, width: &dyn Fn(&str) -> f64) -> String {
    let mut parts: Vec<Vec<char>> = label.split(':').map(|p| p.chars().collect()).collect();
    let mut cut = vec![false; parts.len()];
    let join = |parts: &[Vec<char>], cut: &[bool]| {
        parts
            .iter()
            .zip(cut)
            .map(|(p, &c)| {
                let text: String = p.iter().collect();
                if c {
                    format!("{}…", text.trim_end())
                } else {
                    text
                }
            })
            .collect::<Vec<_>>()
            .join(":")
    };
    loop {
        let text = join(&parts, &cut);
        if width(&text) <= max {
            return text;
        }
        let Some(longest) = (0..parts.len())
            .filter(|&i| !parts[i].is_empty())
            .max_by_key(|&i| parts[i].len())
        else {
            return shorten(&text, max, width);
        };
        parts[longest].pop();
        cut[longest] = true;
    }
}

#[cfg(test)]
impl XLabels {
    /// The box (left, top, right, bottom) each drawn label covers when label `i` is centred
    /// at `centres[i]` and the area starts at `top`.
    fn boxes(
        &self,
        centres: &[f64],
        top: f64,
        line: f64,
        width: &dyn Fn(&str) -> f64,
    ) -> Vec<(f64, f64, f64, f64)> {
        let top = top + 0.5 * line;
        self.lines
            .iter()
            .zip(centres)
            .filter(|(lines, _)| !lines.is_empty())
            .map(|(lines, &x)| {
                let w = lines.iter().map(|l| width(l)).fold(0.0, f64::max);
                if self.rotated {
                    let half = lines.len() as f64 * line / 2.0;
                    (x - half, top, x + half, top + w)
                } else {
                    (
                        x - w / 2.0,
                        top,
                        x + w / 2.0,
                        top + lines.len() as f64 * line,
                    )
                }
            })
            .collect()
    }
}

/// The x-axis labels of a categorical chart whose plotting area spans `plot_x` pixels (in the
/// root's coordinates), at scale `s`, with at most `max_area` SVG units below the plot.
fn x_labels_for<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: f64,
    labels: &[String],
    plot_width: f64,
    max_area: f64,
) -> XLabels {
    let style = TextStyle::from(font(s, 14.0));
    let width = |t: &str| {
        root.estimate_text_size(t, &style)
            .map_or(t.chars().count() as f64 * 8.0 * s, |(w, _)| f64::from(w))
    };
    let slot = plot_width / labels.len().max(1) as f64;
    // Shortening measures prefix after prefix, so a hostile level name of a million characters
    // would take forever; no label longer than this fits any axis (a character is at least
    // 3 units wide, the widest slot under 720), so cutting here changes nothing drawn.
    const MAX_LABEL_CHARS: usize = 256;
    let labels: Vec<String> = labels
        .iter()
        .map(|l| l.chars().take(MAX_LABEL_CHARS).collect())
        .collect();
    layout_x_labels(&labels, slot, 16.0 * s, max_area * s, &width)
}

/// Draws `layout` below the plotting area whose bottom edge is at `top`, label `i` centred at
/// `centres[i]`.
fn draw_x_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: f64,
    layout: &XLabels,
    centres: &[i32],
    top: i32,
) -> DrawResult<DB> {
    let line = 16.0 * s;
    let top = top as f64 + 0.5 * line;
    for (lines, &x) in layout.lines.iter().zip(centres) {
        for (j, text) in lines.iter().enumerate() {
            if layout.rotated {
                // Turned lines stand side by side, the first on the right (read downwards,
                // it comes first when the page is turned).
                let style = TextStyle::from(font(s, 14.0))
                    .transform(FontTransform::Rotate90)
                    .pos(Pos::new(HPos::Left, VPos::Center));
                let offset = ((lines.len() - 1) as f64 / 2.0 - j as f64) * line;
                let x = (f64::from(x) + offset).round() as i32;
                root.draw(&Text::new(text.clone(), (x, top as i32), style))?;
            } else {
                let style = TextStyle::from(font(s, 14.0)).pos(Pos::new(HPos::Center, VPos::Top));
                let y = (top + j as f64 * line).round() as i32;
                root.draw(&Text::new(text.clone(), (x, y), style))?;
            }
        }
    }
    Ok(())
}

/// The largest magnitude an axis may reach. Plotters computes tick positions by stepping
/// through the range; with a non-finite range (or one so wide that the padding overflows) it
/// never finishes, so every range is clamped here, and values beyond it are drawn at the edge.
const AXIS_LIMIT: f64 = 1e150;

/// A finite, non-empty axis range covering the finite values among `values`, padded by 8 %.
/// Non-finite values are ignored; with none finite the range is `0..1`.
fn axis_range(values: impl IntoIterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        let v = v.clamp(-AXIS_LIMIT, AXIS_LIMIT);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return 0.0..1.0;
    }
    let span = (hi - lo).max(1e-9 * hi.abs().max(lo.abs()).max(1.0));
    (lo - 0.08 * span)..(hi + 0.08 * span)
}

/// Tick labels for an axis over `range`: as many decimals as its steps need (plotters steps by
/// 1, 2 or 5 × 10^k, about ten to an axis), a true minus sign, and never `−0`.
fn tick_label(range: &std::ops::Range<f64>) -> impl Fn(&f64) -> String + use<> {
    let step = (range.end - range.start).abs() / 10.0;
    let decimals = if step > 0.0 && step.is_finite() {
        (-step.log10().floor()).clamp(0.0, 6.0) as usize
    } else {
        0
    };
    move |v: &f64| {
        if v.abs() >= 1e9 {
            return format!("{v:e}").replace('-', "−");
        }
        let text = format!("{v:.decimals$}");
        match text.strip_prefix('-') {
            Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
            Some(rest) => format!("−{rest}"),
            None => text,
        }
    }
}

/// `v` clamped into `range` (NaN to its start), so a point never lies outside its axis.
fn clamp_to(v: f64, range: &std::ops::Range<f64>) -> f64 {
    if v.is_nan() {
        range.start
    } else {
        v.clamp(range.start, range.end)
    }
}

fn draw_cell_means<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: f64,
    points: &[MeanPoint],
    individual: &[Vec<f64>],
    y_label: &str,
    title: &str,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let y = axis_range(
        points
            .iter()
            .flat_map(|p| [p.lower, p.mean, p.upper])
            .chain(individual.iter().flatten().copied()),
    );
    let n = points.len();
    let (margin, y_area) = (px(s, 12.0), px(s, 60.0));
    let plot_width = f64::from(root.dim_in_pixel().0) - f64::from(2 * margin + y_area);
    let labels: Vec<String> = points.iter().map(|p| p.label.clone()).collect();
    let layout = x_labels_for(root, s, &labels, plot_width, 160.0);
    let mut chart = ChartBuilder::on(root)
        .caption(title, title_font(root, s, title))
        .margin(margin)
        .x_label_area_size(layout.area.round() as u32)
        .y_label_area_size(y_area)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y.clone())?;
    house_mesh(&mut chart.configure_mesh(), s)
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&tick_label(&y))
        .y_desc(y_label)
        .draw()?;
    let centres: Vec<i32> = (0..n)
        .map(|i| chart.backend_coord(&(i as f64, y.start)).0)
        .collect();
    let bottom = chart.plotting_area().get_pixel_range().1.end;
    draw_x_labels(root, s, &layout, &centres, bottom)?;
    // Each participant's cell means, joined by a line across consecutive cells they have, a
    // little left of the condition means so neither hides the other.
    let grey = RGBColor(150, 150, 150);
    for subject in individual {
        let pts: Vec<(f64, f64)> = subject
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, &v)| (i as f64 - 0.12, clamp_to(v, &y)))
            .collect();
        for pair in pts.windows(2) {
            if pair[1].0 - pair[0].0 < 1.5 {
                chart.draw_series(LineSeries::new(
                    pair.to_vec(),
                    grey.mix(0.5).stroke_width(px(s, 1.0)),
                ))?;
            }
        }
        chart.draw_series(
            pts.iter()
                .map(|&p| Circle::new(p, px(s, 2.0), grey.mix(0.7).filled())),
        )?;
    }
    chart.draw_series(points.iter().enumerate().map(|(i, p)| {
        let c = |v: f64| clamp_to(v, &y);
        ErrorBar::new_vertical(
            i as f64,
            c(p.lower),
            c(p.mean),
            c(p.upper),
            BLUE.filled().stroke_width(px(s, 1.0)),
            px(s, 12.0),
        )
    }))?;
    // The error bar draws the mean as its centre marker.
    Ok(())
}

/// Cell means with within-subject (Cousineau-Morey) confidence intervals, beside each
/// participant's cell means (`individual`: one value per point per participant, NaN where the
/// participant has no such cell) joined by lines.
pub fn cell_means(
    points: &[MeanPoint],
    individual: &[Vec<f64>],
    y_label: &str,
    title: &str,
    out_dir: Option<&Path>,
) -> Result<Figure, AnalysisError> {
    both_backends!(
        "cell_means",
        format!(
            "{title}: condition means (blue) with within-subject (Cousineau-Morey) 95% confidence \
             intervals; grey points joined by lines are the {} participants' own cell means",
            individual.len()
        ),
        out_dir,
        draw_cell_means,
        points,
        individual,
        y_label,
        title
    )
}

/// One sample size's simulated power: (n, power, CI lower, CI upper).
pub type PowerPoint = (usize, f64, f64, f64);

fn draw_power<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: f64,
    points: &[PowerPoint],
    title: &str,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    // Sample sizes on a numeric axis (12, 24, 100 are not evenly spaced), power from 0 to 1.
    let x = axis_range(points.iter().map(|p| p.0 as f64).chain([0.0]));
    let x = 0.0..x.end.max(1.0);
    // A little room beyond 0 and 1, so a power of 1 is not drawn on the frame.
    let y = -0.03..1.05;
    let mut chart = ChartBuilder::on(root)
        .caption(title, title_font(root, s, title))
        .margin(px(s, 12.0))
        .x_label_area_size(px(s, 40.0))
        .y_label_area_size(px(s, 60.0))
        .build_cartesian_2d(x.clone(), y.clone())?;
    house_mesh(&mut chart.configure_mesh(), s)
        .x_desc("participants per study (n)")
        .y_desc("power (share of studies with p < α)")
        .x_label_formatter(&tick_label(&x))
        .y_label_formatter(&tick_label(&y))
        .draw()?;
    let at = |p: &PowerPoint| {
        (
            clamp_to(p.0 as f64, &x),
            clamp_to(p.1, &y),
            clamp_to(p.2, &y),
            clamp_to(p.3, &y),
        )
    };
    chart.draw_series(LineSeries::new(
        points.iter().map(at).map(|(n, p, _, _)| (n, p)),
        BLUE.mix(0.6).stroke_width(px(s, 1.0)),
    ))?;
    chart.draw_series(points.iter().map(at).map(|(n, p, lo, hi)| {
        ErrorBar::new_vertical(
            n,
            lo,
            p,
            hi,
            BLUE.filled().stroke_width(px(s, 1.0)),
            px(s, 12.0),
        )
    }))?;
    Ok(())
}

/// Power per sample size with Clopper–Pearson 95% intervals (`power.svg`, `power.png`): the
/// sample sizes on a numeric axis, power from 0 to 1.
pub fn power_curve(
    points: &[PowerPoint],
    title: &str,
    out_dir: Option<&Path>,
) -> Result<Figure, AnalysisError> {
    both_backends!(
        "power",
        format!(
            "{title}: power per sample size (share of simulated studies with p < α) with \
             Clopper–Pearson 95% intervals"
        ),
        out_dir,
        draw_power,
        points,
        title
    )
}

fn draw_histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: f64,
    values: &[f64],
    x_label: &str,
    title: &str,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let x = axis_range(values.iter().copied());
    // Identical values (a virtual clock's offsets are all 0) get a 2-unit axis around them.
    let x = if x.end - x.start < 1e-6 {
        let mid = (x.start + x.end) / 2.0;
        (mid - 1.0)..(mid + 1.0)
    } else {
        x
    };
    // An odd number of bins puts the centre of the axis (where identical values are) in the
    // middle of a bin rather than on an edge.
    let n_bins = 31usize;
    let width = (x.end - x.start) / n_bins as f64;
    let mut counts = vec![0usize; n_bins];
    for &v in values.iter().filter(|v| v.is_finite()) {
        let b = (((v - x.start) / width).floor() as usize).min(n_bins - 1);
        counts[b] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.08;
    let mut chart = ChartBuilder::on(root)
        .caption(title, title_font(root, s, title))
        .margin(px(s, 12.0))
        .x_label_area_size(px(s, 40.0))
        .y_label_area_size(px(s, 60.0))
        .build_cartesian_2d(x.clone(), 0.0..top)?;
    house_mesh(&mut chart.configure_mesh(), s)
        .x_desc(x_label)
        .y_desc("trials")
        .x_label_formatter(&tick_label(&x))
        .y_label_formatter(&tick_label(&(0.0..top)))
        .draw()?;
    chart.draw_series(counts.iter().enumerate().map(|(i, &c)| {
        let x0 = x.start + i as f64 * width;
        Rectangle::new([(x0, 0.0), (x0 + width, c as f64)], BLUE.mix(0.6).filled())
    }))?;
    Ok(())
}

/// A histogram of per-trial values (the audio-video offsets of the timing-quality section).
pub fn histogram(
    name: &str,
    values: &[f64],
    x_label: &str,
    title: &str,
    caption: &str,
    out_dir: Option<&Path>,
) -> Result<Figure, AnalysisError> {
    both_backends!(
        name,
        caption,
        out_dir,
        draw_histogram,
        values,
        x_label,
        title
    )
}

fn draw_estimate_vs_actual<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: f64,
    points: &[(f64, f64)],
    unit: &str,
    title: &str,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let hi = axis_range(points.iter().flat_map(|&(a, e)| [0.0, a, e])).end;
    let axis = 0.0..hi;
    let mut chart = ChartBuilder::on(root)
        .caption(title, title_font(root, s, title))
        .margin(px(s, 12.0))
        .x_label_area_size(px(s, 40.0))
        .y_label_area_size(px(s, 60.0))
        .build_cartesian_2d(0.0..hi, 0.0..hi)?;
    house_mesh(&mut chart.configure_mesh(), s)
        .x_desc(format!("actual duration ({unit})"))
        .y_desc(format!("estimated duration ({unit})"))
        .x_label_formatter(&tick_label(&axis))
        .y_label_formatter(&tick_label(&axis))
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (hi, hi)],
            BLACK.stroke_width(px(s, 1.0)),
        ))?
        .label("identity (veridical)")
        .legend(move |(x, y)| {
            PathElement::new(
                [(x, y), (x + px(s, 20.0) as i32, y)],
                BLACK.stroke_width(px(s, 1.0)),
            )
        });
    chart.draw_series(points.iter().map(|&(a, e)| {
        Circle::new(
            (clamp_to(a, &axis), clamp_to(e, &axis)),
            px(s, 3.0),
            RED.mix(0.5).filled(),
        )
    }))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .label_font(font(s, 14.0))
        .legend_area_size(px(s, 30.0))
        .margin(px(s, 10.0))
        .border_style(BLACK.stroke_width(px(s, 1.0)))
        .draw()?;
    Ok(())
}

/// Estimated against actual duration, one point per subject, condition (and item), with the
/// identity line.
pub fn estimate_vs_actual(
    points: &[(f64, f64)],
    unit: &str,
    title: &str,
    out_dir: Option<&Path>,
) -> Result<Figure, AnalysisError> {
    both_backends!(
        "estimate_vs_actual",
        format!(
            "{title}: estimated vs actual duration (mean per subject, condition and item); the line is estimate = actual"
        ),
        out_dir,
        draw_estimate_vs_actual,
        points,
        unit,
        title
    )
}

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(140, 86, 75),
];

fn draw_time_course<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    s: f64,
    series: &[Ribbon],
    labels: &(String, String),
    title: &str,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let all = || series.iter().flat_map(|s| s.points.iter());
    let x = axis_range(all().map(|p| p.0));
    let y = axis_range(all().flat_map(|&(_, m, l, u)| [m, l, u]));
    let at = |&(t, m, l, u): &(f64, f64, f64, f64)| {
        (
            clamp_to(t, &x),
            clamp_to(m, &y),
            clamp_to(l, &y),
            clamp_to(u, &y),
        )
    };
    let mut chart = ChartBuilder::on(root)
        .caption(title, title_font(root, s, title))
        .margin(px(s, 12.0))
        .x_label_area_size(px(s, 40.0))
        .y_label_area_size(px(s, 60.0))
        .build_cartesian_2d(x.clone(), y.clone())?;
    house_mesh(&mut chart.configure_mesh(), s)
        .x_desc(labels.0.as_str())
        .y_desc(labels.1.as_str())
        .x_label_formatter(&tick_label(&x))
        .y_label_formatter(&tick_label(&y))
        .draw()?;
    for (k, series) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let points: Vec<(f64, f64, f64, f64)> = series.points.iter().map(at).collect();
        let mut ribbon: Vec<(f64, f64)> = points.iter().map(|&(t, _, l, _)| (t, l)).collect();
        ribbon.extend(points.iter().rev().map(|&(t, _, _, u)| (t, u)));
        chart.draw_series(std::iter::once(Polygon::new(
            ribbon,
            color.mix(0.2).filled(),
        )))?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|&(t, m, _, _)| (t, m)),
                color.stroke_width(px(s, 2.0)),
            ))?
            .label(series.label.as_str())
            .legend(move |(x, y)| {
                PathElement::new(
                    [(x, y), (x + px(s, 20.0) as i32, y)],
                    color.stroke_width(px(s, 2.0)),
                )
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .label_font(font(s, 14.0))
        .legend_area_size(px(s, 30.0))
        .margin(px(s, 10.0))
        .border_style(BLACK.stroke_width(px(s, 1.0)))
        .draw()?;
    Ok(())
}

/// Continuous-rating time courses: mean per condition with a confidence ribbon.
pub fn time_course(
    series: &[Ribbon],
    x_label: &str,
    y_label: &str,
    title: &str,
    out_dir: Option<&Path>,
) -> Result<Figure, AnalysisError> {
    let labels = (x_label.to_string(), y_label.to_string());
    both_backends!(
        "time_course",
        format!(
            "{title}: continuous ratings over time, mean per condition with 95% confidence ribbons"
        ),
        out_dir,
        draw_time_course,
        series,
        &labels,
        title
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_means_svg_has_one_marker_per_cell_and_labels() {
        let points = vec![
            MeanPoint {
                label: "control".into(),
                mean: 37.0,
                lower: 33.0,
                upper: 41.0,
            },
            MeanPoint {
                label: "calm".into(),
                mean: 63.0,
                lower: 59.0,
                upper: 67.0,
            },
        ];
        let dir = std::env::temp_dir().join(format!("cuelab-fig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fig = cell_means(&points, &[], "TimeGuess", "t", Some(&dir)).unwrap();
        assert_eq!(fig.svg.matches("<circle").count(), 2, "one marker per cell");
        // plotters puts text content on its own line.
        assert!(fig.svg.contains("\ncontrol\n") && fig.svg.contains("\ncalm\n"));
        let png = std::fs::read(dir.join("cell_means.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Runs `draw` on a worker and fails if it has not returned after a minute: the bug this
    /// pins was an endless loop inside plotters, which would otherwise hang the test run.
    fn finishes<T: Send + 'static>(draw: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(draw());
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("drawing did not finish")
    }

    #[test]
    fn figures_with_huge_or_non_finite_values_get_a_finite_axis_and_finish() {
        for bad in [1e308, -1e308, f64::INFINITY, f64::NAN, f64::MAX] {
            let points = vec![
                MeanPoint {
                    label: "a".into(),
                    mean: 1.0,
                    lower: 0.0,
                    upper: 2.0,
                },
                MeanPoint {
                    label: "b".into(),
                    mean: bad,
                    lower: bad,
                    upper: bad,
                },
            ];
            let fig = finishes(move || cell_means(&points, &[], "y", "t", None).unwrap());
            assert_eq!(fig.svg.matches("<circle").count(), 2, "{bad}");
            // A participant's cell mean is drawn (clamped to the axis) when finite, else left out.
            let points = vec![MeanPoint {
                label: "a".into(),
                mean: 1.0,
                lower: 0.0,
                upper: 2.0,
            }];
            let fig = finishes(move || {
                cell_means(&points, &[vec![bad], vec![1.5]], "y", "t", None).unwrap()
            });
            assert_eq!(
                fig.svg.matches("<circle").count(),
                2 + usize::from(bad.is_finite()),
                "{bad}"
            );
            let series = vec![Ribbon {
                label: "a".into(),
                points: vec![
                    (0.0, 1.0, 0.5, 1.5),
                    (bad, bad, bad, bad),
                    (2.0, 1.0, 0.5, 1.5),
                ],
            }];
            let fig = finishes(move || time_course(&series, "t", "v", "x", None).unwrap());
            assert_eq!(fig.svg.matches("<polygon").count(), 1, "{bad}");
            let fig = finishes(move || {
                estimate_vs_actual(&[(10.0, 12.0), (bad, bad)], "s", "x", None).unwrap()
            });
            assert!(fig.svg.contains("<svg"), "{bad}");
        }
        for range in [
            axis_range([1e308, -1e308]),
            axis_range([f64::NAN]),
            axis_range([5.0]),
        ] {
            assert!(range.start.is_finite() && range.end.is_finite() && range.start < range.end);
        }
    }

    #[test]
    fn tick_labels_have_the_decimals_their_steps_need_and_no_negative_zero() {
        let f = tick_label(&(-0.7..0.7));
        assert_eq!(
            [f(&-0.6), f(&-0.0), f(&0.0), f(&0.2)],
            ["−0.6", "0.0", "0.0", "0.2"]
        );
        let f = tick_label(&(0.0..20.0));
        assert_eq!([f(&18.0), f(&2.0)], ["18", "2"]);
        let f = tick_label(&(0.0..0.14));
        assert_eq!(f(&0.02), "0.02");
        assert_eq!(tick_label(&(0.0..1e150))(&-1e150), "−1e150");
    }

    #[test]
    fn png_is_the_print_size_at_300_dpi_and_says_so() {
        let dir = std::env::temp_dir().join(format!("cuelab-fig-dpi-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let points: Vec<MeanPoint> = ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, l)| MeanPoint {
                label: l.to_string(),
                mean: i as f64,
                lower: i as f64 - 0.5,
                upper: i as f64 + 0.5,
            })
            .collect();
        cell_means(&points, &[vec![0.2, 1.1, 2.3]], "y", "t", Some(&dir)).unwrap();
        histogram("h", &[1.0, 2.0, 2.5], "x", "t", "c", Some(&dir)).unwrap();
        for name in ["cell_means", "h"] {
            let file = std::fs::File::open(dir.join(format!("{name}.png"))).unwrap();
            let reader = png::Decoder::new(std::io::BufReader::new(file))
                .read_info()
                .unwrap();
            let info = reader.info();
            assert_eq!((info.width, info.height), (1950, 1300), "{name}");
            let dims = info.pixel_dims.expect("a pHYs chunk");
            assert_eq!((dims.xppu, dims.yppu), (11811, 11811), "{name}");
            assert!(matches!(dims.unit, png::Unit::Meter), "{name}");
        }
        // 1950 × 1300 pixels at 300 dpi is 6.5 × 4.33 inches; 11811 pixels per metre is 300 dpi.
        assert_eq!(PNG_SIZE.0 as f64 / f64::from(PNG_DPI), PNG_INCHES.0);
        assert!((PNG_SIZE.1 as f64 / f64::from(PNG_DPI) - PNG_INCHES.1).abs() < 1e-9);
        assert_eq!(
            (f64::from(PNG_DPI) / 0.0254).round() as u32,
            PNG_PIXELS_PER_METRE
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Lays out `labels` as `draw_cell_means` does at scale `s`, with the real font, and checks
    /// that no two drawn labels overlap and each fits its area; returns the layout.
    fn check_labels(labels: &[String], s: f64) -> XLabels {
        register_font();
        let mut svg = String::new();
        let root = SVGBackend::with_string(
            &mut svg,
            ((720.0 * s).round() as u32, (480.0 * s).round() as u32),
        )
        .into_drawing_area();
        let plot_width = f64::from(root.dim_in_pixel().0) - (2.0 * 12.0 + 60.0) * s;
        let layout = x_labels_for(&root, s, labels, plot_width, 160.0);
        let style = TextStyle::from(font(s, 14.0));
        let width = |t: &str| f64::from(root.estimate_text_size(t, &style).unwrap().0);
        let slot = plot_width / labels.len() as f64;
        let centres: Vec<f64> = (0..labels.len()).map(|i| (i as f64 + 0.5) * slot).collect();
        let line = 16.0 * s;
        let boxes = layout.boxes(&centres, 0.0, line, &width);
        assert!(!boxes.is_empty());
        for pair in boxes.windows(2) {
            assert!(
                pair[0].2 < pair[1].0,
                "labels overlap at scale {s}: {pair:?} in {layout:?}"
            );
        }
        for b in &boxes {
            assert!(
                b.3 <= layout.area + 1e-9,
                "{b:?} below the area {}",
                layout.area
            );
        }
        assert!(layout.area <= 160.0 * s + 1e-9);
        layout
    }

    #[test]
    fn x_labels_never_overlap_short_wrapped_vertical_or_crowded() {
        let short: Vec<String> = ["control", "calm"].iter().map(|l| l.to_string()).collect();
        let two_factors: Vec<String> = ["arousing", "relaxing", "sad", "silence"]
            .iter()
            .flat_map(|m| ["chase", "approach"].map(|c| format!("{m}:{c}")))
            .collect();
        let long: Vec<String> = ["arousing", "relaxing", "sad", "tense"]
            .iter()
            .flat_map(|m| {
                ["chase", "approach", "hide"]
                    .map(|c| format!("{m} orchestral soundtrack (strings and brass):{c} scene"))
            })
            .collect();
        let crowded: Vec<String> = (0..90).map(|i| format!("participant-{i:03}")).collect();
        for s in [1.0, PNG_SCALE] {
            let l = check_labels(&short, s);
            assert!(!l.rotated && l.lines == vec![vec!["control"], vec!["calm"]]);
            let l = check_labels(&two_factors, s);
            assert!(!l.rotated, "{l:?}");
            // Wrapped at the factor separator, every character kept.
            for (lines, label) in l.lines.iter().zip(&two_factors) {
                assert_eq!(lines.concat(), *label);
            }
            let l = check_labels(&long, s);
            assert!(l.rotated, "{l:?}");
            // Each level keeps its beginning, on its own turned line or cut in its part.
            for (lines, label) in l.lines.iter().zip(&long) {
                let text = lines.concat();
                let (music, scene) = label.split_once(':').unwrap();
                let (m, _) = music.split_once(' ').unwrap();
                assert!(
                    text.starts_with(m) && text.contains(&format!(":{}", &scene[..3])),
                    "{text} ({label})"
                );
            }
            let l = check_labels(&crowded, s);
            assert!(l.rotated && l.lines.iter().any(Vec::is_empty), "{l:?}");
        }
        // The figure draws them: rotated text in the SVG, no plotters x labels on top.
        let points: Vec<MeanPoint> = long
            .iter()
            .map(|l| MeanPoint {
                label: l.clone(),
                mean: 1.0,
                lower: 0.5,
                upper: 1.5,
            })
            .collect();
        let fig = cell_means(&points, &[], "y", "t", None).unwrap();
        assert!(fig.svg.matches("rotate(90").count() >= long.len());
    }

    #[test]
    fn power_curve_puts_sample_sizes_on_a_numeric_axis() {
        let points = [
            (12, 0.3, 0.2, 0.4),
            (24, 0.6, 0.5, 0.7),
            (100, 0.99, 0.95, 1.0),
        ];
        let fig = power_curve(&points, "t", None).unwrap();
        let cx: Vec<f64> = fig
            .svg
            .split("<circle cx=\"")
            .skip(1)
            .map(|rest| rest[..rest.find('"').unwrap()].parse().unwrap())
            .collect();
        assert_eq!(cx.len(), 3, "one marker per sample size");
        // Distances between markers in proportion to the distances between sample sizes.
        let ratio = (cx[1] - cx[0]) / (cx[2] - cx[1]);
        assert!((ratio - 12.0 / 76.0).abs() < 0.02, "{cx:?}");
    }

    #[test]
    fn a_huge_level_name_is_shortened_and_finishes() {
        let huge = "x".repeat(1_000_000);
        let points = vec![
            MeanPoint {
                label: format!("{huge}:{huge}"),
                mean: 1.0,
                lower: 0.5,
                upper: 1.5,
            },
            MeanPoint {
                label: "b".into(),
                mean: 1.0,
                lower: 0.5,
                upper: 1.5,
            },
        ];
        let fig = finishes(move || cell_means(&points, &[], "y", "t", None).unwrap());
        assert!(fig.svg.contains('…') && fig.svg.len() < 100_000);
    }

    #[test]
    fn a_shortened_key_keeps_the_start_of_every_level() {
        // Ten units per character.
        let width = |t: &str| t.chars().count() as f64 * 10.0;
        assert_eq!(shorten_key("abcdefgh:xy", 80.0, &width), "abcd…:xy");
        assert_eq!(
            shorten_key("abcdefgh:wxyz1234", 120.0, &width),
            "abcde…:wxyz…"
        );
        assert_eq!(shorten_key("short", 80.0, &width), "short");
        assert!(width(&shorten_key("a:b:c:d:e:f", 30.0, &width)) <= 30.0);
    }

    #[test]
    fn time_course_draws_a_ribbon_per_series() {
        let series: Vec<Ribbon> = ["a", "b"]
            .iter()
            .map(|l| Ribbon {
                label: l.to_string(),
                points: (0..5).map(|t| (t as f64, 1.0, 0.5, 1.5)).collect(),
            })
            .collect();
        let fig = time_course(&series, "t (s)", "rating", "x", None).unwrap();
        assert_eq!(fig.svg.matches("<polygon").count(), 2);
    }
}

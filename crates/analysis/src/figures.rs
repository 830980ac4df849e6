//! Figures drawn with plotters, each once as SVG (kept as a string for the HTML report) and
//! once as PNG. Text is measured with an embedded DejaVu Sans (ab_glyph), so no system fonts
//! are needed.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::AnalysisError;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");
const SIZE: (u32, u32) = (720, 480);
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The font is a valid TTF shipped with the crate; a failure here would show as
        // missing text, never as a wrong number.
        let _ = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT);
    });
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

macro_rules! both_backends {
    ($name:expr, $caption:expr, $out_dir:expr, $draw:ident, $($arg:expr),*) => {{
        register_font();
        let name: &str = $name;
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            $draw(&root, $($arg),*).map_err(|e| fail(name)(e.to_string()))?;
            root.present().map_err(|e| fail(name)(e.to_string()))?;
        }
        if let Some(dir) = $out_dir {
            let path = dir.join(format!("{name}.png"));
            let root = BitMapBackend::new(&path, SIZE).into_drawing_area();
            $draw(&root, $($arg),*).map_err(|e| fail(name)(e.to_string()))?;
            root.present().map_err(|e| fail(name)(e.to_string()))?;
            let svg_path = dir.join(format!("{name}.svg"));
            std::fs::write(&svg_path, &svg).map_err(|source| AnalysisError::Io { path: svg_path, source })?;
        }
        Ok(Figure { name: name.to_string(), caption: $caption.to_string(), svg })
    }};
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
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y.clone())?;
    let label_of = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < n {
            points[i as usize].label.clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n.max(2) * 2 + 1)
        .x_label_formatter(&label_of)
        .y_desc(y_label)
        .label_style(("sans-serif", 14))
        .draw()?;
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
                    grey.mix(0.5).stroke_width(1),
                ))?;
            }
        }
        chart.draw_series(
            pts.iter()
                .map(|&p| Circle::new(p, 2, grey.mix(0.7).filled())),
        )?;
    }
    chart.draw_series(points.iter().enumerate().map(|(i, p)| {
        let c = |v: f64| clamp_to(v, &y);
        ErrorBar::new_vertical(
            i as f64,
            c(p.lower),
            c(p.mean),
            c(p.upper),
            BLUE.filled(),
            12,
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

/// Power per sample size with Clopper–Pearson 95% intervals (`power.svg`, `power.png`).
pub fn power_curve(
    points: &[MeanPoint],
    title: &str,
    out_dir: Option<&Path>,
) -> Result<Figure, AnalysisError> {
    let none: &[Vec<f64>] = &[];
    both_backends!(
        "power",
        format!("{title}: power per sample size with Clopper–Pearson 95% intervals"),
        out_dir,
        draw_cell_means,
        points,
        none,
        "power",
        title
    )
}

fn draw_histogram<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
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
    let n_bins = 30usize;
    let width = (x.end - x.start) / n_bins as f64;
    let mut counts = vec![0usize; n_bins];
    for &v in values.iter().filter(|v| v.is_finite()) {
        let b = (((v - x.start) / width).floor() as usize).min(n_bins - 1);
        counts[b] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.08;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x.clone(), 0.0..top)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("trials")
        .label_style(("sans-serif", 14))
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
    points: &[(f64, f64)],
    unit: &str,
    title: &str,
) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let hi = axis_range(points.iter().flat_map(|&(a, e)| [0.0, a, e])).end;
    let axis = 0.0..hi;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..hi, 0.0..hi)?;
    chart
        .configure_mesh()
        .x_desc(format!("actual duration ({unit})"))
        .y_desc(format!("estimated duration ({unit})"))
        .label_style(("sans-serif", 14))
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            [(0.0, 0.0), (hi, hi)],
            BLACK.stroke_width(1),
        ))?
        .label("identity (veridical)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK));
    chart.draw_series(points.iter().map(|&(a, e)| {
        Circle::new(
            (clamp_to(a, &axis), clamp_to(e, &axis)),
            3,
            RED.mix(0.5).filled(),
        )
    }))?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
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
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x.clone(), y.clone())?;
    chart
        .configure_mesh()
        .x_desc(labels.0.as_str())
        .y_desc(labels.1.as_str())
        .label_style(("sans-serif", 14))
        .draw()?;
    for (k, s) in series.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let points: Vec<(f64, f64, f64, f64)> = s.points.iter().map(at).collect();
        let mut ribbon: Vec<(f64, f64)> = points.iter().map(|&(t, _, l, _)| (t, l)).collect();
        ribbon.extend(points.iter().rev().map(|&(t, _, _, u)| (t, u)));
        chart.draw_series(std::iter::once(Polygon::new(
            ribbon,
            color.mix(0.2).filled(),
        )))?;
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|&(t, m, _, _)| (t, m)),
                color.stroke_width(2),
            ))?
            .label(s.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
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

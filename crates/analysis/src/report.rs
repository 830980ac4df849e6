//! The human-facing renderings: which figures to draw, `results.md`, and the self-contained
//! `report.html` (tables inline, figures as inline SVG; no external resources).

use std::path::Path;

use polars::prelude::*;

use crate::compute::{self, Results};
use crate::data::{self, Prepared};
use crate::error::AnalysisError;
use crate::figures::{self, Figure, MeanPoint};
use crate::plan::{ColumnOrValue, DerivedKind, FigureKind, Plan};
use crate::tables::{Table, html_escape};
use crate::timecourse::TimeCourse;

fn value_expr(v: &ColumnOrValue) -> Expr {
    match v {
        ColumnOrValue::Value(x) => lit(*x),
        ColumnOrValue::Column(c) => col(c.as_str()).cast(DataType::Float64),
    }
}

/// Draws the figures that apply (or those the plan lists).
pub(crate) fn figures(
    plan: &Plan,
    results: &Results,
    prepared: &Prepared,
    time_course: Option<&TimeCourse>,
    out_dir: Option<&Path>,
) -> Result<Vec<Figure>, AnalysisError> {
    let wanted = |k: FigureKind| {
        plan.results
            .figures
            .as_ref()
            .is_none_or(|list| list.contains(&k))
    };
    let mut out = Vec::new();
    if let Some(d) = &results.descriptives
        && wanted(FigureKind::CellMeans)
    {
        // Each participant's own cell means, at the positions of the described cells.
        let cm = data::cell_means(
            prepared,
            &plan.design.subject,
            &plan.design.dv,
            &d.within,
            &d.between,
        )?;
        let position: std::collections::HashMap<&str, usize> = d
            .cells
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k, i))
            .collect();
        let n_cells = cm.n_cells();
        let individual: Vec<Vec<f64>> = (0..cm.subjects.len())
            .map(|s| {
                let mut row = vec![f64::NAN; position.len()];
                let group = compute::decode(cm.group[s], &cm.between, &prepared.levels);
                for c in 0..n_cells {
                    let mut key = group.clone();
                    key.extend(compute::decode(c, &cm.within, &prepared.levels));
                    if let Some(&i) = position.get(key.join(":").as_str()) {
                        row[i] = cm.values[s * n_cells + c];
                    }
                }
                row
            })
            .collect();
        let points: Vec<MeanPoint> = d
            .cells
            .iter()
            .map(|(key, c)| MeanPoint {
                label: key.to_string(),
                mean: c.mean,
                lower: c.ci_lower,
                upper: c.ci_upper,
            })
            .collect();
        out.push(figures::cell_means(
            &points,
            &individual,
            &results.dv,
            &results.title,
            out_dir,
        )?);
    }
    let duration = plan.derive.iter().find_map(|d| match d.kind() {
        Some(DerivedKind::Ratio(x)) | Some(DerivedKind::LogRatio(x)) => Some(x),
        _ => None,
    });
    if let Some(dur) = duration
        && wanted(FigureKind::EstimateVsActual)
    {
        let mut keys = vec![col(plan.design.subject.as_str())];
        keys.extend(plan.design.within.iter().map(|f| col(f.as_str())));
        // Per item too, where items have their own durations (clips).
        keys.extend(plan.design.item.iter().map(|f| col(f.as_str())));
        let agg = prepared
            .trials
            .clone()
            .lazy()
            .group_by_stable(keys)
            .agg([
                value_expr(&dur.estimate).mean().alias("__e"),
                value_expr(&dur.actual).mean().alias("__a"),
            ])
            .collect()?;
        let e = data::f64_column(&agg, "__e")?;
        let a = data::f64_column(&agg, "__a")?;
        let points: Vec<(f64, f64)> = a.into_iter().zip(e).collect();
        out.push(figures::estimate_vs_actual(
            &points,
            "s",
            &results.title,
            out_dir,
        )?);
    }
    if let Some(q) = &results.timing_quality {
        out.push(figures::histogram(
            "av_offset",
            &q.offsets,
            "audio − video onset (ms)",
            "Audio-video offset per trial",
            &format!(
                "Audio-video onset offset of each of {} trials (positive: audio after video)",
                q.n_trials
            ),
            out_dir,
        )?);
    }
    if let Some(tc) = time_course {
        let label = plan
            .time_course
            .as_ref()
            .and_then(|s| s.time_label.clone())
            .unwrap_or_else(|| tc.time.clone());
        out.push(figures::time_course(
            &tc.ribbons(),
            &label,
            &tc.value,
            &results.title,
            out_dir,
        )?);
    }
    if let Some(c) = &results.continuous {
        out.extend(crate::timecourse_fig::continuous(
            c,
            &results.title,
            out_dir,
        )?);
    }
    Ok(out)
}

/// `results.md`.
pub(crate) fn markdown(results: &Results, tables: &[Table]) -> String {
    let mut out = format!(
        "# {}\n\nData: `{}` — dv `{}`, subject `{}`; {} rows analysed of {} read, {} subjects.\n\n",
        results.title,
        results.data,
        results.dv,
        results.subject,
        results.n_rows,
        results.n_rows_read,
        results.n_subjects
    );
    for t in tables {
        out.push_str(&t.to_markdown());
    }
    out.push_str(&format!(
        "### Provenance\n\n{}\n\n",
        provenance_text(results)
    ));
    if !results.notes.is_empty() {
        out.push_str("### Notes\n\n");
        for n in &results.notes {
            out.push_str(&format!("- {n}\n"));
        }
    }
    out
}

/// The provenance as one Markdown sentence.
fn provenance_text(results: &Results) -> String {
    provenance_sentence(&results.provenance, &|text| text.to_string(), &|code| {
        format!("`{code}`")
    })
}

/// The provenance as one HTML sentence (paths and the command as code).
fn provenance_html(results: &Results) -> String {
    provenance_sentence(&results.provenance, &html_escape, &|code| {
        format!("<code>{}</code>", html_escape(code))
    })
}

/// The provenance sentence, its plain parts through `text` and file and command through `code`.
fn provenance_sentence(
    p: &crate::results::Provenance,
    text: &dyn Fn(&str) -> String,
    code: &dyn Fn(&str) -> String,
) -> String {
    let mut s = format!(
        "Computed by cuelab {} on {} from {} (SHA-256 {})",
        text(&p.cuelab_version),
        text(&p.date),
        code(&p.data_file),
        code(&p.data_sha256)
    );
    if let Some(c) = &p.command {
        s.push_str(&format!(" with {}", code(c)));
    }
    s.push('.');
    s
}

/// `report.html`: one file, no external resources.
pub(crate) fn html(results: &Results, tables: &[Table], figures: &[Figure]) -> String {
    let mut out =
        String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!("<title>{}</title>\n", html_escape(&results.title)));
    out.push_str(
        "<style>body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}\
         table{border-collapse:collapse;margin:1em 0 2em}\
         caption{text-align:left;font-weight:bold;padding:.3em 0;white-space:nowrap;contain:inline-size}\
         div.table{overflow-x:auto;width:max-content;min-width:100%;max-width:min(calc(50vw + 500px - 1em),calc(100vw - 2em))}\
         th,td{border-bottom:1px solid #ccc;padding:.25em .6em;white-space:nowrap}th{text-align:left;vertical-align:bottom}td.num{text-align:right;font-variant-numeric:tabular-nums}\
         figure{margin:1em 0 2em}figure svg{width:100%;height:auto}figcaption{font-size:.9em;color:#555}code{overflow-wrap:anywhere}\
         @media print{div.table{overflow:visible;max-width:none}}</style>\n</head>\n<body>\n",
    );
    // The styles, as seen in Chromium: a caption keeps to one line without widening its table
    // (`contain`), up to the column's width; a table wider than the column uses the window's
    // width to the right of it before it scrolls; inline SVG figures fill the column (they
    // carry a viewBox), so their text is as large as the page's; paths and hashes wrap.
    out.push_str(&format!("<h1>{}</h1>\n", html_escape(&results.title)));
    out.push_str(&format!(
        "<p>Data: <code>{}</code>; dependent variable <code>{}</code>, subject <code>{}</code>; {} rows analysed of {} read; {} subjects. Results schema {}.</p>\n",
        html_escape(&results.data),
        html_escape(&results.dv),
        html_escape(&results.subject),
        results.n_rows,
        results.n_rows_read,
        results.n_subjects,
        crate::compute::SCHEMA
    ));
    out.push_str("<h2>Tables</h2>\n");
    for t in tables.iter().filter(|t| t.name != "timing_quality") {
        out.push_str(&t.to_html());
    }
    let figure = |f: &Figure| {
        // Drop the XML declaration, if any, so the SVG can sit inline.
        let svg = f.svg.find("<svg").map_or(f.svg.as_str(), |i| &f.svg[i..]);
        format!(
            "<figure id=\"{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
            html_escape(&f.name),
            svg,
            html_escape(&f.caption)
        )
    };
    if let Some(q) = &results.timing_quality {
        out.push_str("<h2>Timing quality</h2>\n");
        out.push_str(&format!(
            "<p>{} of {} trials with a measured audio-video offset (the others had no soundtrack or no video onset): M = {} ms (SD = {}, range {} to {}; 95% of |offset| ≤ {} ms){}{}.</p>\n",
            q.n_trials,
            q.participants.iter().map(|(_, p)| p.n_trials).sum::<usize>(),
            crate::tables::apa_num(q.av_offset_mean),
            crate::tables::apa_num(q.av_offset_sd),
            crate::tables::apa_num(q.av_offset_min),
            crate::tables::apa_num(q.av_offset_max),
            crate::tables::apa_num(q.av_offset_abs_p95),
            q.frames_dropped
                .map(|f| format!("; {f:.0} frames dropped"))
                .unwrap_or_default(),
            q.flagged
                .map(|f| format!("; {f} trials flagged"))
                .unwrap_or_default()
        ));
        for t in tables.iter().filter(|t| t.name == "timing_quality") {
            out.push_str(&t.to_html());
        }
        for f in figures.iter().filter(|f| f.name == "av_offset") {
            out.push_str(&figure(f));
        }
    }
    if figures.iter().any(|f| f.name != "av_offset") {
        out.push_str("<h2>Figures</h2>\n");
        for f in figures.iter().filter(|f| f.name != "av_offset") {
            out.push_str(&figure(f));
        }
    }
    out.push_str(&format!(
        "<h2>Provenance</h2>\n<p>{}</p>\n",
        provenance_html(results)
    ));
    if !results.notes.is_empty() {
        out.push_str("<h2>Notes</h2>\n<ul>\n");
        for n in &results.notes {
            out.push_str(&format!("<li>{}</li>\n", html_escape(n)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_is_markdown_code_in_results_md_and_escaped_html_code_in_the_report() {
        let p = crate::results::Provenance {
            cuelab_version: "0.1.0".into(),
            command: Some("cuelab analyze <plan>".into()),
            data_file: "data/a&b.csv".into(),
            data_sha256: "ab12".into(),
            date: "2026-11-30T00:00:00Z".into(),
        };
        let md = provenance_sentence(&p, &|t| t.to_string(), &|c| format!("`{c}`"));
        assert_eq!(
            md,
            "Computed by cuelab 0.1.0 on 2026-11-30T00:00:00Z from `data/a&b.csv` (SHA-256 `ab12`) with `cuelab analyze <plan>`."
        );
        let html = provenance_sentence(&p, &html_escape, &|c| {
            format!("<code>{}</code>", html_escape(c))
        });
        assert!(!html.contains('`'), "{html}");
        assert!(
            html.contains("<code>data/a&amp;b.csv</code>")
                && html.contains("<code>cuelab analyze &lt;plan&gt;</code>"),
            "{html}"
        );
    }
}

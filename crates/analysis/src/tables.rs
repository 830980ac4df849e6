//! The results as tables, and their renderings: CSV (full precision, machine column names),
//! Markdown and HTML (APA style: headers in words, statistics to two decimals, p to three
//! without a leading zero and `< .001` below that, no e-notation).

use crate::compute::{Cell, Results};

/// A table value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// A number (NaN and missing render as empty / `NA`).
    Num(f64),
    /// A count.
    Int(usize),
    /// A p-value (APA: `.034`, `< .001`).
    P(f64),
    /// A quantity bounded by ±1 such as an eta squared or a correlation (APA: `.35`).
    Prop(f64),
    /// Degrees of freedom (whole numbers as such, else two decimals).
    Df(f64),
    /// Nothing.
    Empty,
}

impl Value {
    fn opt(x: Option<f64>) -> Self {
        x.map_or(Value::Empty, Value::Num)
    }

    /// Full precision (shortest round-trip), for CSV.
    pub fn exact(&self) -> String {
        match self {
            Value::Text(s) => s.clone(),
            Value::Num(x) | Value::P(x) | Value::Prop(x) | Value::Df(x) if x.is_nan() => {
                "NA".to_string()
            }
            Value::Num(x) | Value::P(x) | Value::Prop(x) | Value::Df(x) => format!("{x}"),
            Value::Int(n) => n.to_string(),
            Value::Empty => String::new(),
        }
    }

    /// APA style, for reading.
    pub fn pretty(&self) -> String {
        match self {
            Value::Num(x) => apa_num(*x),
            Value::P(x) => apa_p(*x),
            Value::Prop(x) => apa_prop(*x),
            Value::Df(x) if x.is_finite() && x.fract() == 0.0 => format!("{x:.0}"),
            Value::Df(x) => apa_num(*x),
            other => other.exact(),
        }
    }
}

/// A number for reading: two decimals, more (up to three significant digits) for magnitudes
/// below 1, never e-notation; `NA` for NaN.
pub fn apa_num(x: f64) -> String {
    if x.is_nan() {
        return "NA".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "∞" } else { "−∞" }.into();
    }
    let mag = if x == 0.0 {
        0
    } else {
        x.abs().log10().floor() as i32
    };
    let decimals = if mag >= 0 {
        2
    } else {
        (2 - mag).min(8) as usize
    };
    let s = format!("{x:.decimals$}");
    // A value that rounds to zero is printed without a sign.
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        "0".to_string()
    } else {
        s.replace('-', "−")
    }
}

/// A p-value as APA writes it: three decimals without the leading zero, `< .001` below that.
pub fn apa_p(p: f64) -> String {
    if p.is_nan() {
        return "NA".into();
    }
    if p < 0.001 {
        return "< .001".into();
    }
    let s = format!("{p:.3}");
    if s == "1.000" {
        "1.000".into()
    } else {
        s.trim_start_matches('0').to_string()
    }
}

/// A proportion-like value (|x| ≤ 1): two decimals without the leading zero (three when it
/// would otherwise read `.00`).
pub fn apa_prop(x: f64) -> String {
    if x.is_nan() {
        return "NA".into();
    }
    let decimals = if x != 0.0 && x.abs() < 0.005 { 3 } else { 2 };
    let s = format!("{x:.decimals$}");
    let s = s.replacen("0.", ".", 1);
    s.replace('-', "−")
}

/// `p = .034` or `p < .001`.
pub fn apa_p_clause(p: f64) -> String {
    let s = apa_p(p);
    if s.starts_with('<') {
        format!("p {s}")
    } else {
        format!("p = {s}")
    }
}

/// A statistic's label for a machine column name (the CSV header), in words.
pub fn label(column: &str) -> String {
    match column {
        "cell" => "Cell",
        "n" => "N",
        "mean" => "Mean",
        "sd" => "SD",
        "se" => "SE",
        "se_within" => "Within-subject SE",
        "ci_lower" => "95% CI lower",
        "ci_upper" => "95% CI upper",
        "effect" => "Effect",
        "df_num" => "df (effect)",
        "df_den" => "df (error)",
        "p" => "p",
        "ges" => "η²G",
        "ges_ci_lower" => "η²G 95% CI lower (one-sided)",
        "pes" => "η²p",
        "pes_ci_lower" => "η²p 95% CI lower (one-sided)",
        "gg_epsilon" => "GG ε",
        "gg_df_num" => "GG df (effect)",
        "gg_df_den" => "GG df (error)",
        "gg_p" => "GG p",
        "hf_epsilon" => "HF ε",
        "hf_p" => "HF p",
        "apa" => "As reported",
        "contrast" => "Contrast",
        "estimate" => "Estimate",
        "df" => "df",
        "p_holm" => "p (Holm)",
        "p_bonferroni" => "p (Bonferroni)",
        "dz" => "dz",
        "dz_ci_lower" => "dz 95% CI lower",
        "dz_ci_upper" => "dz 95% CI upper",
        "term" => "Term",
        "group" => "Group",
        "levels" => "Levels",
        "variance" => "Variance",
        "pair" => "Pair",
        "covariance" => "Covariance",
        "correlation" => "Correlation",
        "step" => "Step",
        "rows" => "Rows",
        "column" => "Column",
        "subject" => "Participant",
        "slope" => "Slope",
        "intercept" => "Intercept",
        "r_squared" => "R²",
        "cv" => "CV",
        "W" => "Mauchly's W",
        "av_offset_mean" => "Mean A/V offset (ms)",
        "av_offset_abs_max" => "Largest |A/V offset| (ms)",
        "frames_dropped" => "Frames dropped",
        "hits" => "Hits",
        "misses" => "Misses",
        "false_alarms" => "False alarms",
        "correct_rejections" => "Correct rejections",
        "hit_rate" => "Hit rate",
        "false_alarm_rate" => "False-alarm rate",
        "d_prime" => "d′",
        "c" => "c",
        "flagged" => "Trials flagged",
        "level" => "Level",
        "peak_ms" => "Time of peak (ms)",
        "peak_value" => "Peak",
        "lag_ms" => "Lag (ms)",
        "lag_correlation" => "Correlation at lag",
        other => other,
    }
    .to_string()
}
/// Formats with 6 significant digits; scientific notation for very small or large values.
pub fn sig6(x: f64) -> String {
    if !x.is_finite() {
        return if x.is_nan() {
            "NA".into()
        } else {
            format!("{x}")
        };
    }
    if x == 0.0 {
        return "0".into();
    }
    let mag = x.abs().log10().floor() as i32;
    if !(-4..6).contains(&mag) {
        return format!("{x:.5e}");
    }
    let decimals = (5 - mag).max(0) as usize;
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// One table.
#[derive(Debug, Clone)]
pub struct Table {
    /// File stem for CSV (`anova_rm`).
    pub name: String,
    /// Heading.
    pub title: String,
    /// Column names.
    pub header: Vec<String>,
    /// Rows.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    fn new(name: impl Into<String>, title: impl Into<String>, header: &[&str]) -> Self {
        Self {
            name: name.into(),
            title: title.into(),
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// CSV text (RFC 4180 quoting).
    pub fn to_csv(&self) -> String {
        let quote = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let mut out = self
            .header
            .iter()
            .map(|h| quote(h))
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
        for row in &self.rows {
            out.push_str(
                &row.iter()
                    .map(|v| quote(&v.exact()))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        out
    }

    /// A Markdown section: heading and pipe table.
    pub fn to_markdown(&self) -> String {
        let esc = |s: &str| s.replace('|', "\\|");
        let mut out = format!(
            "### {}\n\n| {} |\n|",
            self.title,
            self.header
                .iter()
                .map(|h| esc(&label(h)))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        for _ in &self.header {
            out.push_str("---|");
        }
        out.push('\n');
        for row in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                row.iter()
                    .map(|v| esc(&v.pretty()))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        out.push('\n');
        out
    }

    /// An HTML `<table>` with a caption.
    pub fn to_html(&self) -> String {
        let mut out = format!(
            "<div class=\"table\"><table>\n<caption>{}</caption>\n<thead><tr>",
            code_spans_html(&self.title)
        );
        for h in &self.header {
            out.push_str(&format!("<th>{}</th>", html_escape(&label(h))));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for v in row {
                let class = if matches!(
                    v,
                    Value::Num(_) | Value::Int(_) | Value::P(_) | Value::Prop(_) | Value::Df(_)
                ) {
                    " class=\"num\""
                } else {
                    ""
                };
                out.push_str(&format!("<td{class}>{}</td>", html_escape(&v.pretty())));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table></div>\n");
        out
    }
}

/// Escapes text for HTML.
/// A title written for Markdown (names in backticks) as escaped HTML with `<code>` spans; an
/// unpaired backtick stays as it is.
pub fn code_spans_html(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return html_escape(s);
    }
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 {
            out.push_str("<code>");
            out.push_str(&html_escape(part));
            out.push_str("</code>");
        } else {
            out.push_str(&html_escape(part));
        }
    }
    out
}

/// Text as HTML (`&`, `<`, `>`, `"` escaped).
pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn cell_rows(table: &mut Table, cells: &crate::named::Named<Cell>) {
    for (key, c) in cells.iter() {
        table.rows.push(vec![
            Value::Text(key.to_string()),
            Value::Int(c.n),
            Value::Num(c.mean),
            Value::Num(c.sd),
            Value::Num(c.se),
            Value::Num(c.se_within),
            Value::Num(c.ci_lower),
            Value::Num(c.ci_upper),
        ]);
    }
}

const CELL_HEADER: &[&str] = &[
    "cell",
    "n",
    "mean",
    "sd",
    "se",
    "se_within",
    "ci_lower",
    "ci_upper",
];

/// Every table of the results, in report order.
pub fn tables(r: &Results) -> Vec<Table> {
    let mut out = Vec::new();
    let mut counts = Table::new(
        "exclusions",
        "Rows kept after each exclusion step",
        &["step", "rows"],
    );
    for (step, n) in [
        ("read", r.counts.read),
        ("correct", r.counts.after_incorrect),
        ("not flagged", r.counts.after_flagged),
        ("within bounds", r.counts.after_bounds),
        ("within SD limit", r.counts.after_sd),
        ("analysed (dv present)", r.counts.analysed),
    ] {
        counts
            .rows
            .push(vec![Value::Text(step.into()), Value::Int(n)]);
    }
    out.push(counts);

    if let Some(d) = &r.descriptives {
        let mut factors = d.between.clone();
        factors.extend(d.within.iter().cloned());
        let mut t = Table::new(
            "descriptives",
            format!(
                "Descriptives of {} by {} (per-subject means; {}% Cousineau-Morey CIs)",
                r.dv,
                factors.join(" × "),
                d.conf_level * 100.0
            ),
            CELL_HEADER,
        );
        cell_rows(&mut t, &d.cells);
        out.push(t);
    }

    for (name, a) in r.anova.iter() {
        let mut t = Table::new(
            format!("anova_{name}"),
            format!(
                "ANOVA `{name}` (type III; {} subjects; η² CIs one-sided 95% [lower, 1] from the noncentral F)",
                a.n_subjects
            ),
            &[
                "effect",
                "apa",
                "df_num",
                "df_den",
                "MSE",
                "F",
                "p",
                "ges",
                "ges_ci_lower",
                "pes",
                "pes_ci_lower",
                "gg_epsilon",
                "gg_df_num",
                "gg_df_den",
                "gg_p",
                "hf_epsilon",
                "hf_p",
            ],
        );
        for (effect, e) in a.effects.iter() {
            t.rows.push(vec![
                Value::Text(effect.to_string()),
                Value::Text(apa_anova(e)),
                Value::Df(e.df_num),
                Value::Df(e.df_den),
                Value::Num(e.mse),
                Value::Num(e.f),
                Value::P(e.p),
                Value::Prop(e.ges),
                Value::Prop(e.ges_ci.lower),
                Value::Prop(e.pes),
                Value::Prop(e.pes_ci.lower),
                Value::opt(e.gg.as_ref().map(|c| c.epsilon)),
                e.gg.as_ref().map_or(Value::Empty, |c| Value::Df(c.df_num)),
                e.gg.as_ref().map_or(Value::Empty, |c| Value::Df(c.df_den)),
                e.gg.as_ref().map_or(Value::Empty, |c| Value::P(c.p)),
                Value::opt(e.hf.as_ref().map(|c| c.epsilon)),
                e.hf.as_ref().map_or(Value::Empty, |c| Value::P(c.p)),
            ]);
        }
        out.push(t);
        if !a.sphericity.is_empty() {
            let mut s = Table::new(
                format!("sphericity_{name}"),
                format!("Mauchly's test of sphericity, ANOVA `{name}`"),
                &["effect", "W", "p", "gg_epsilon", "hf_epsilon"],
            );
            for (effect, x) in a.sphericity.iter() {
                s.rows.push(vec![
                    Value::Text(effect.to_string()),
                    Value::Num(x.mauchly_w),
                    Value::P(x.mauchly_p),
                    Value::Num(x.gg_epsilon),
                    Value::Num(x.hf_epsilon),
                ]);
            }
            out.push(s);
        }
    }

    for (factor, p) in r.pairwise.iter() {
        let method = if p.method == "emmeans" {
            "Pairwise comparisons (emmeans on the multivariate model, averaged over between-subject groups)"
        } else {
            "Pairwise paired t-tests"
        };
        let mut t = Table::new(
            format!("pairwise_{factor}"),
            format!(
                "{method} of {} by {factor} (Holm and Bonferroni adjusted; dz CI two-sided)",
                r.dv
            ),
            &[
                "contrast",
                "apa",
                "estimate",
                "se",
                "t",
                "df",
                "p",
                "p_holm",
                "p_bonferroni",
                "ci_lower",
                "ci_upper",
                "dz",
                "dz_ci_lower",
                "dz_ci_upper",
            ],
        );
        for (contrast, c) in p.comparisons.iter() {
            t.rows.push(vec![
                Value::Text(contrast.to_string()),
                Value::Text(apa_pairwise(c)),
                Value::Num(c.estimate),
                Value::Num(c.se),
                Value::Num(c.t),
                Value::Df(c.df),
                Value::P(c.p),
                Value::P(c.p_holm),
                Value::P(c.p_bonferroni),
                Value::Num(c.ci_lower),
                Value::Num(c.ci_upper),
                Value::opt(c.dz),
                Value::opt(c.dz_ci.map(|x| x.lower)),
                Value::opt(c.dz_ci.map(|x| x.upper)),
            ]);
        }
        out.push(t);
    }

    for (name, m) in r.lmm.iter() {
        let mut t = Table::new(
            format!("lmm_{name}_fixed"),
            format!(
                "Mixed model `{name}`: {} (REML, Satterthwaite df; {} observations)",
                m.formula, m.n_obs
            ),
            &["term", "estimate", "se", "df", "t", "p"],
        );
        for (term, f) in m.fixed.iter() {
            t.rows.push(vec![
                Value::Text(term.to_string()),
                Value::Num(f.estimate),
                Value::Num(f.se),
                Value::Df(f.df),
                Value::Num(f.t),
                Value::P(f.p),
            ]);
        }
        out.push(t);
        if !m.anova.is_empty() {
            let mut a = Table::new(
                format!("lmm_{name}_anova"),
                format!("Mixed model `{name}`: type III tests (Satterthwaite df, as lmerTest)"),
                &["term", "apa", "df_num", "df_den", "F", "p"],
            );
            for (term, x) in m.anova.iter() {
                a.rows.push(vec![
                    Value::Text(term.to_string()),
                    Value::Text(format!(
                        "F({}, {}) = {}, {}",
                        Value::Df(x.df_num).pretty(),
                        Value::Df(x.df_den).pretty(),
                        apa_num(x.f),
                        apa_p_clause(x.p)
                    )),
                    Value::Df(x.df_num),
                    Value::Df(x.df_den),
                    Value::Num(x.f),
                    Value::P(x.p),
                ]);
            }
            out.push(a);
        }
        let mut v = Table::new(
            format!("lmm_{name}_random"),
            format!(
                "Mixed model `{name}`: variance components{}",
                if m.singular {
                    " (singular fit: a variance is zero or a correlation ±1, as lme4's isSingular)"
                } else {
                    ""
                }
            ),
            &["group", "levels", "variance", "sd"],
        );
        for (group, c) in m.random.iter() {
            let g = group.split(':').next().unwrap_or(group);
            v.rows.push(vec![
                Value::Text(group.to_string()),
                m.n_groups.get(g).map_or(Value::Empty, |n| Value::Int(*n)),
                Value::Num(c.variance),
                Value::Num(c.sd),
            ]);
        }
        out.push(v);
        if !m.correlations.is_empty() {
            let mut c = Table::new(
                format!("lmm_{name}_correlations"),
                format!("Mixed model `{name}`: correlations of random effects"),
                &["pair", "covariance", "correlation"],
            );
            for (pair, x) in m.correlations.iter() {
                c.rows.push(vec![
                    Value::Text(pair.to_string()),
                    Value::Num(x.covariance),
                    Value::Prop(x.correlation),
                ]);
            }
            out.push(c);
        }
    }

    if !r.congruence.is_empty() {
        let mut t = Table::new(
            "congruence",
            format!(
                "Congruence effects on {} (incongruent − congruent, per-subject means)",
                r.dv
            ),
            &[
                "column",
                "n",
                "effect",
                "sd",
                "t",
                "df",
                "p",
                "ci_lower",
                "ci_upper",
                "dz",
                "dz_ci_lower",
                "dz_ci_upper",
            ],
        );
        for (column, c) in r.congruence.iter() {
            t.rows.push(vec![
                Value::Text(column.to_string()),
                Value::Int(c.n),
                Value::Num(c.effect),
                Value::Num(c.sd),
                Value::Num(c.t),
                Value::Df(c.df),
                Value::P(c.p),
                Value::Num(c.ci_lower),
                Value::Num(c.ci_upper),
                Value::Num(c.dz),
                Value::Num(c.dz_ci.lower),
                Value::Num(c.dz_ci.upper),
            ]);
        }
        out.push(t);
        for (column, c) in r.congruence.iter() {
            let mut t = Table::new(
                format!("congruence_{column}_per_subject"),
                format!(
                    "Congruence effect on {} per participant (mean of incongruent − mean of congruent trials)",
                    r.dv
                ),
                &["subject", "effect"],
            );
            for (subject, effect) in c.per_subject.iter() {
                t.rows
                    .push(vec![Value::Text(subject.to_string()), Value::Num(*effect)]);
            }
            out.push(t);
        }
    }

    for (dv, d) in r.ratings.iter() {
        let mut factors = d.between.clone();
        factors.extend(d.within.iter().cloned());
        let mut t = Table::new(
            format!("ratings_{dv}"),
            format!(
                "Descriptives of {dv} by {} (per-subject means; {}% Cousineau-Morey CIs; ANOVA `{dv}` above)",
                factors.join(" × "),
                d.conf_level * 100.0
            ),
            CELL_HEADER,
        );
        cell_rows(&mut t, &d.cells);
        out.push(t);
    }

    if let Some(c) = &r.continuous {
        for (item, levels) in c.items.iter() {
            let mut t = Table::new(
                format!("continuous_{item}"),
                format!(
                    "Continuous {item} by {}: mean over the clip ({}% Cousineau-Morey CI, {} participants), peak of the mean time course, lag (0–{} ms) of best fit to the designed curve",
                    c.condition,
                    c.conf_level * 100.0,
                    c.n_subjects,
                    c.max_lag_ms
                ),
                &[
                    "level",
                    "n",
                    "mean",
                    "ci_lower",
                    "ci_upper",
                    "peak_ms",
                    "peak_value",
                    "lag_ms",
                    "lag_correlation",
                ],
            );
            for (level, x) in levels.iter() {
                t.rows.push(vec![
                    Value::Text(level.to_string()),
                    Value::Int(x.n),
                    Value::Num(x.mean),
                    Value::Num(x.ci_lower),
                    Value::Num(x.ci_upper),
                    // Times on the grid: whole milliseconds print as such.
                    Value::Df(x.peak_ms),
                    Value::Num(x.peak_value),
                    x.lag_ms.map_or(Value::Empty, Value::Df),
                    x.lag_correlation.map_or(Value::Empty, Value::Prop),
                ]);
            }
            out.push(t);
        }
    }

    if let Some(sdt) = &r.sdt {
        let mut t = Table::new(
            "sdt",
            format!(
                "Signal detection of step `{}` per participant and {} (log-linear correction; ANOVAs `d_prime` and `criterion` above)",
                sdt.step, sdt.condition
            ),
            &[
                "cell",
                "hits",
                "misses",
                "false_alarms",
                "correct_rejections",
                "hit_rate",
                "false_alarm_rate",
                "d_prime",
                "c",
            ],
        );
        for (key, c) in sdt.cells.iter() {
            t.rows.push(vec![
                Value::Text(key.to_string()),
                Value::Int(c.hits as usize),
                Value::Int(c.misses as usize),
                Value::Int(c.false_alarms as usize),
                Value::Int(c.correct_rejections as usize),
                Value::Prop(c.hit_rate),
                Value::Prop(c.false_alarm_rate),
                Value::Num(c.d_prime),
                Value::Num(c.c),
            ]);
        }
        out.push(t);
    }

    if let Some(q) = &r.timing_quality {
        let mut t = Table::new(
            "timing_quality",
            "Timing quality per participant (all trials as presented, before exclusions)",
            &[
                "subject",
                "n",
                "av_offset_mean",
                "av_offset_abs_max",
                "frames_dropped",
                "flagged",
            ],
        );
        for (s, p) in q.participants.iter() {
            t.rows.push(vec![
                Value::Text(s.to_string()),
                Value::Int(p.n_trials),
                Value::Num(p.av_offset_mean),
                Value::Num(p.av_offset_abs_max),
                Value::opt(p.frames_dropped),
                p.flagged.map_or(Value::Empty, Value::Int),
            ]);
        }
        out.push(t);
    }

    for (column, tr) in r.timing.iter() {
        if !tr.cells.is_empty() {
            let mut t = Table::new(
                format!("timing_{column}"),
                format!("Duration measure `{column}` by cell (per-subject means)"),
                CELL_HEADER,
            );
            cell_rows(&mut t, &tr.cells);
            out.push(t);
        }
        if !tr.vierordt.is_empty() {
            let mut t = Table::new(
                format!("vierordt_{column}"),
                format!(
                    "Per-participant Vierordt fits (estimate on actual duration) for `{column}`"
                ),
                &["subject", "n", "slope", "intercept", "r_squared", "cv"],
            );
            for (s, v) in tr.vierordt.iter() {
                t.rows.push(vec![
                    Value::Text(s.to_string()),
                    Value::Int(v.n),
                    Value::Num(v.slope),
                    Value::Num(v.intercept),
                    Value::Num(v.r_squared),
                    Value::Num(v.cv),
                ]);
            }
            out.push(t);
        }
    }
    out
}

/// `F(2, 38) = 42.13, p < .001, η²G = .35, 95% CI [.19, 1] (one-sided)`: the uncorrected test
/// with effectsize's default CI of the generalized eta squared.
fn apa_anova(e: &crate::compute::Effect) -> String {
    let ci = if e.ges_ci.lower.is_nan() {
        String::new()
    } else {
        format!(
            ", {:.0}% CI [{}, {}]{}",
            e.ges_ci.conf_level * 100.0,
            apa_prop(e.ges_ci.lower),
            if e.ges_ci.upper >= 1.0 {
                "1".to_string()
            } else {
                apa_prop(e.ges_ci.upper)
            },
            if e.ges_ci.one_sided {
                " (one-sided)"
            } else {
                ""
            }
        )
    };
    format!(
        "F({}, {}) = {}, {}, η²G = {}{ci}",
        Value::Df(e.df_num).pretty(),
        Value::Df(e.df_den).pretty(),
        apa_num(e.f),
        apa_p_clause(e.p),
        apa_prop(e.ges)
    )
}

/// `t(19) = 7.11, p (Holm) < .001, dz = 1.59, 95% CI [0.91, 2.25]`.
fn apa_pairwise(c: &crate::compute::Comparison) -> String {
    let mut s = format!(
        "t({}) = {}, {} (Holm)",
        Value::Df(c.df).pretty(),
        apa_num(c.t),
        apa_p_clause(c.p_holm)
    );
    if let (Some(dz), Some(ci)) = (c.dz, c.dz_ci) {
        s.push_str(&format!(
            ", dz = {}, {:.0}% CI [{}, {}]",
            apa_num(dz),
            ci.conf_level * 100.0,
            apa_num(ci.lower),
            apa_num(ci.upper)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captions_show_names_as_code_not_backticks() {
        assert_eq!(
            code_spans_html("ANOVA `music` & `a<b`"),
            "ANOVA <code>music</code> &amp; <code>a&lt;b</code>"
        );
        assert_eq!(code_spans_html("an odd ` stays"), "an odd ` stays");
        assert_eq!(code_spans_html("plain"), "plain");
    }

    #[test]
    fn six_significant_digits() {
        for (x, want) in [
            (42.130913421, "42.1309"),
            (2.27699250634879e-10, "2.27699e-10"),
            (0.350284755415438, "0.350285"),
            (-26.05, "-26.05"),
            (38.0, "38"),
            (123456.7, "123457"),
            (1234567.0, "1.23457e6"),
            (f64::NAN, "NA"),
        ] {
            assert_eq!(sig6(x), want, "{x}");
        }
    }

    #[test]
    fn apa_numbers_have_no_e_notation_and_p_is_bounded() {
        for (x, want) in [
            (42.130913421, "42.13"),
            (-26.05, "−26.05"),
            (0.0123456, "0.0123"),
            (2.27699250634879e-10, "0"),
            (38.0, "38.00"),
        ] {
            assert_eq!(apa_num(x), want, "{x}");
        }
        for (p, want) in [
            (2.27699250634879e-10, "< .001"),
            (0.0341, ".034"),
            (0.5, ".500"),
            (1.0, "1.000"),
        ] {
            assert_eq!(apa_p(p), want, "{p}");
        }
        assert_eq!(apa_prop(0.350284755415438), ".35");
        assert_eq!(apa_prop(-0.5), "−.50");
        assert_eq!(Value::Df(38.0).pretty(), "38");
        assert_eq!(Value::Df(25.7391).pretty(), "25.74");
    }

    #[test]
    fn csv_quotes_and_keeps_full_precision() {
        let mut t = Table::new("t", "T", &["a", "b"]);
        t.rows
            .push(vec![Value::Text("x, y".into()), Value::Num(0.1 + 0.2)]);
        assert_eq!(t.to_csv(), "a,b\n\"x, y\",0.30000000000000004\n");
    }

    #[test]
    fn markdown_and_html_escape() {
        let mut t = Table::new("t", "A <b>", &["a|b"]);
        t.rows.push(vec![Value::Num(1.5)]);
        assert!(t.to_markdown().contains("| a\\|b |"));
        assert!(t.to_html().contains("<caption>A &lt;b&gt;</caption>"));
    }
}

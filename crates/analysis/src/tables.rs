//! The results as tables, and their renderings: CSV (full precision), Markdown and HTML
//! (6 significant digits).

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
            Value::Num(x) if x.is_nan() => "NA".to_string(),
            Value::Num(x) => format!("{x}"),
            Value::Int(n) => n.to_string(),
            Value::Empty => String::new(),
        }
    }

    /// Six significant digits, for reading.
    pub fn pretty(&self) -> String {
        match self {
            Value::Num(x) => sig6(*x),
            other => other.exact(),
        }
    }
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
                .map(|h| esc(h))
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
            "<table>\n<caption>{}</caption>\n<thead><tr>",
            html_escape(&self.title)
        );
        for h in &self.header {
            out.push_str(&format!("<th>{}</th>", html_escape(h)));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for v in row {
                let class = if matches!(v, Value::Num(_) | Value::Int(_)) {
                    " class=\"num\""
                } else {
                    ""
                };
                out.push_str(&format!("<td{class}>{}</td>", html_escape(&v.pretty())));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

/// Escapes text for HTML.
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
            format!("ANOVA `{name}` (type III; {} subjects)", a.n_subjects),
            &[
                "effect",
                "df_num",
                "df_den",
                "MSE",
                "F",
                "p",
                "ges",
                "pes",
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
                Value::Num(e.df_num),
                Value::Num(e.df_den),
                Value::Num(e.mse),
                Value::Num(e.f),
                Value::Num(e.p),
                Value::Num(e.ges),
                Value::Num(e.pes),
                Value::opt(e.gg.as_ref().map(|c| c.epsilon)),
                Value::opt(e.gg.as_ref().map(|c| c.df_num)),
                Value::opt(e.gg.as_ref().map(|c| c.df_den)),
                Value::opt(e.gg.as_ref().map(|c| c.p)),
                Value::opt(e.hf.as_ref().map(|c| c.epsilon)),
                Value::opt(e.hf.as_ref().map(|c| c.p)),
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
                    Value::Num(x.mauchly_p),
                    Value::Num(x.gg_epsilon),
                    Value::Num(x.hf_epsilon),
                ]);
            }
            out.push(s);
        }
    }

    for (factor, p) in r.pairwise.iter() {
        let mut t = Table::new(
            format!("pairwise_{factor}"),
            format!(
                "Pairwise paired t-tests of {} by {factor} (Holm and Bonferroni adjusted)",
                r.dv
            ),
            &[
                "contrast",
                "estimate",
                "se",
                "t",
                "df",
                "p",
                "p_holm",
                "p_bonferroni",
                "dz",
                "ci_lower",
                "ci_upper",
            ],
        );
        for (contrast, c) in p.comparisons.iter() {
            t.rows.push(vec![
                Value::Text(contrast.to_string()),
                Value::Num(c.estimate),
                Value::Num(c.se),
                Value::Num(c.t),
                Value::Num(c.df),
                Value::Num(c.p),
                Value::Num(c.p_holm),
                Value::Num(c.p_bonferroni),
                Value::Num(c.dz),
                Value::Num(c.ci_lower),
                Value::Num(c.ci_upper),
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
                Value::Num(f.df),
                Value::Num(f.t),
                Value::Num(f.p),
            ]);
        }
        out.push(t);
        let mut v = Table::new(
            format!("lmm_{name}_random"),
            format!("Mixed model `{name}`: variance components"),
            &["group", "levels", "variance", "sd"],
        );
        for (group, c) in m.random.iter() {
            v.rows.push(vec![
                Value::Text(group.to_string()),
                m.n_groups
                    .get(group)
                    .map_or(Value::Empty, |n| Value::Int(*n)),
                Value::Num(c.variance),
                Value::Num(c.sd),
            ]);
        }
        out.push(v);
    }

    if !r.congruence.is_empty() {
        let mut t = Table::new(
            "congruence",
            format!(
                "Congruence effects on {} (incongruent − congruent, per-subject means)",
                r.dv
            ),
            &[
                "column", "n", "effect", "sd", "t", "df", "p", "dz", "ci_lower", "ci_upper",
            ],
        );
        for (column, c) in r.congruence.iter() {
            t.rows.push(vec![
                Value::Text(column.to_string()),
                Value::Int(c.n),
                Value::Num(c.effect),
                Value::Num(c.sd),
                Value::Num(c.t),
                Value::Num(c.df),
                Value::Num(c.p),
                Value::Num(c.dz),
                Value::Num(c.ci_lower),
                Value::Num(c.ci_upper),
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

#[cfg(test)]
mod tests {
    use super::*;

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

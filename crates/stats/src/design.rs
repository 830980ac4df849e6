//! Fixed-effects design matrices for the mixed model: treatment coding with a chosen reference
//! level, as R's default `contr.treatment`.

use crate::error::{Result, StatsError, check_finite};

/// A dense fixed-effects design matrix (n × p, column-major) with column names.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignMatrix {
    names: Vec<String>,
    n_rows: usize,
    data: Vec<f64>,
    /// Factor terms of a treatment-coded design (empty for [`DesignMatrix::from_columns`]).
    terms: Vec<Term>,
    /// Number of levels of each factor of a treatment-coded design.
    n_levels: Vec<usize>,
}

/// One term of a treatment-coded design and its columns.
#[derive(Debug, Clone, PartialEq)]
struct Term {
    name: String,
    factors: Vec<usize>,
    /// (column index, level of each factor of the term, in `factors` order).
    columns: Vec<(usize, Vec<usize>)>,
}

/// The hypothesis of one term for a type III test: rows `L` of `L β = 0`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TermHypothesis {
    /// Term name as R prints it (`Music`, `Prime_V:Target_V`).
    pub term: String,
    /// Hypothesis rows, each of length p.
    pub rows: Vec<Vec<f64>>,
}

/// A categorical fixed effect: one level code per row (`codes[i] < levels.len()`), coded
/// against `reference` (a column per other level, named `name` + level as R does, e.g.
/// `Musiccontrol`).
#[derive(Debug, Clone, Copy)]
pub struct FixedFactor<'a> {
    /// Factor name.
    pub name: &'a str,
    /// Level labels, in the order of the codes.
    pub levels: &'a [String],
    /// Level code of each row.
    pub codes: &'a [u32],
    /// Index of the reference level.
    pub reference: usize,
}

impl DesignMatrix {
    /// A design from named numeric columns of equal length.
    ///
    /// # Errors
    /// No columns, names and columns of different counts, columns of different lengths, or a
    /// non-finite value.
    pub fn from_columns(names: Vec<String>, columns: Vec<Vec<f64>>) -> Result<Self> {
        if columns.is_empty() {
            return Err(StatsError::TooFew {
                what: "design columns",
                needed: 1,
                got: 0,
            });
        }
        if names.len() != columns.len() {
            return Err(StatsError::LengthMismatch {
                what: "design column names",
                expected: columns.len(),
                actual: names.len(),
            });
        }
        let n_rows = columns[0].len();
        let mut data = Vec::with_capacity(n_rows * columns.len());
        for c in &columns {
            if c.len() != n_rows {
                return Err(StatsError::LengthMismatch {
                    what: "design column",
                    expected: n_rows,
                    actual: c.len(),
                });
            }
            check_finite("design column", c)?;
            data.extend_from_slice(c);
        }
        Ok(Self {
            names,
            n_rows,
            data,
            terms: Vec::new(),
            n_levels: Vec::new(),
        })
    }

    /// Intercept, treatment-coded main effects of `factors`, and the interactions listed as
    /// sets of indices into `factors` (e.g. `&[vec![0, 1]]` for `A:B`; `A * B` is both main
    /// effects plus that). Interaction columns are named `A2:B2` and ordered with the first
    /// factor varying fastest, as R's `model.matrix`.
    ///
    /// ```
    /// use cuelab_stats::{DesignMatrix, FixedFactor};
    /// let levels = vec!["calm".to_string(), "control".to_string(), "upbeat".to_string()];
    /// let x = DesignMatrix::treatment(4, &[FixedFactor { name: "Music", levels: &levels, codes: &[0, 1, 2, 1], reference: 0 }], &[]).unwrap();
    /// assert_eq!(x.names(), ["(Intercept)", "Musiccontrol", "Musicupbeat"]);
    /// assert_eq!(x.column(1), [0.0, 1.0, 0.0, 1.0]);
    /// ```
    ///
    /// # Errors
    /// A factor with fewer than 2 levels, a reference or code out of range, codes of the wrong
    /// length, or an interaction naming an unknown factor.
    pub fn treatment(
        n_rows: usize,
        factors: &[FixedFactor<'_>],
        interactions: &[Vec<usize>],
    ) -> Result<Self> {
        for f in factors {
            if f.levels.len() < 2 {
                return Err(StatsError::TooFew {
                    what: "levels of a fixed factor",
                    needed: 2,
                    got: f.levels.len(),
                });
            }
            if f.reference >= f.levels.len() {
                return Err(StatsError::InvalidArgument(format!(
                    "reference level {} of factor {} is not below {}",
                    f.reference,
                    f.name,
                    f.levels.len()
                )));
            }
            if f.codes.len() != n_rows {
                return Err(StatsError::LengthMismatch {
                    what: "fixed-factor codes",
                    expected: n_rows,
                    actual: f.codes.len(),
                });
            }
            if let Some(index) = f.codes.iter().position(|&c| c as usize >= f.levels.len()) {
                return Err(StatsError::LevelOutOfRange {
                    factor: f.name.to_string(),
                    code: f.codes[index] as usize,
                    index,
                    n_levels: f.levels.len(),
                });
            }
        }
        let mut names = vec!["(Intercept)".to_string()];
        let mut data = vec![1.0; n_rows];
        let mut terms: Vec<Vec<usize>> = (0..factors.len()).map(|i| vec![i]).collect();
        for it in interactions {
            if it.is_empty() || it.iter().any(|&i| i >= factors.len()) {
                return Err(StatsError::InvalidArgument(format!(
                    "interaction {it:?} names an unknown factor"
                )));
            }
            terms.push(it.clone());
        }
        let mut term_info = Vec::new();
        for term in &terms {
            let mut info = Term {
                name: term
                    .iter()
                    .map(|&f| factors[f].name)
                    .collect::<Vec<_>>()
                    .join(":"),
                factors: term.clone(),
                columns: Vec::new(),
            };
            // Columns of a term: the product over its factors of the non-reference indicators,
            // the first factor varying fastest.
            let mut cols: Vec<(String, Vec<usize>)> = vec![(String::new(), vec![])];
            for &fi in term {
                let f = &factors[fi];
                let mut next = Vec::new();
                for lvl in (0..f.levels.len()).filter(|&l| l != f.reference) {
                    for (name, lv) in &cols {
                        let label = format!("{}{}", f.name, f.levels[lvl]);
                        let name = if name.is_empty() {
                            label
                        } else {
                            format!("{name}:{label}")
                        };
                        let mut lv = lv.clone();
                        lv.push(lvl);
                        next.push((name, lv));
                    }
                }
                cols = next;
            }
            for (name, lv) in cols {
                info.columns.push((names.len(), lv.clone()));
                names.push(name);
                data.extend((0..n_rows).map(|i| {
                    let on = term
                        .iter()
                        .zip(&lv)
                        .all(|(&fi, &l)| factors[fi].codes[i] as usize == l);
                    if on { 1.0 } else { 0.0 }
                }));
            }
            term_info.push(info);
        }
        Ok(Self {
            names,
            n_rows,
            data,
            terms: term_info,
            n_levels: factors.iter().map(|f| f.levels.len()).collect(),
        })
    }

    /// Type III hypotheses of every term of a treatment-coded design, as lmerTest's
    /// `anova()`: a term's effect averaged with equal weights over the levels of the factors
    /// of every higher-order term that contains it. Each column of the term gets a row with 1
    /// on that column and `1 / Π(levels of the other factors)` on each column of a containing
    /// term with the same levels of the term's factors. Pass the rows to
    /// [`crate::LmmFit::f_test`]. Empty for designs built with [`DesignMatrix::from_columns`].
    ///
    /// With a single term lmerTest falls back to its type I hypotheses — the term's rows of the
    /// transposed unit lower factor of the Doolittle decomposition of X'X — and so does this
    /// function: the F statistic is the same, but Satterthwaite's denominator df depend on the
    /// basis of the hypothesis.
    pub fn type3_hypotheses(&self) -> Vec<TermHypothesis> {
        let p = self.names.len();
        if self.terms.len() == 1 && p > 1 {
            let l = self.doolittle_l();
            let t = &self.terms[0];
            return vec![TermHypothesis {
                term: t.name.clone(),
                rows: t
                    .columns
                    .iter()
                    .map(|(col, _)| (0..p).map(|j| l[j * p + col]).collect())
                    .collect(),
            }];
        }
        self.terms
            .iter()
            .map(|t| {
                let rows = t
                    .columns
                    .iter()
                    .map(|(col, lv)| {
                        let mut row = vec![0.0; p];
                        row[*col] = 1.0;
                        for s in &self.terms {
                            let contains = s.factors.len() > t.factors.len()
                                && t.factors.iter().all(|f| s.factors.contains(f));
                            if !contains {
                                continue;
                            }
                            let weight: f64 = s
                                .factors
                                .iter()
                                .filter(|f| !t.factors.contains(f))
                                .map(|&f| 1.0 / self.n_levels[f] as f64)
                                .product();
                            for (scol, slv) in &s.columns {
                                let same = t.factors.iter().zip(lv).all(|(f, l)| {
                                    let pos = s.factors.iter().position(|g| g == f);
                                    pos.is_some_and(|i| slv[i] == *l)
                                });
                                if same {
                                    row[*scol] += weight;
                                }
                            }
                        }
                        row
                    })
                    .collect();
                TermHypothesis {
                    term: t.name.clone(),
                    rows,
                }
            })
            .collect()
    }

    /// The unit lower factor `L` (row-major, p × p) of the Doolittle decomposition of X'X, with
    /// lmerTest's zeroing of entries below 1e-6 (`lmerTest:::doolittle`).
    fn doolittle_l(&self) -> Vec<f64> {
        let p = self.names.len();
        let mut x = vec![0.0; p * p];
        for a in 0..p {
            for b in 0..=a {
                let v: f64 = self
                    .column(a)
                    .iter()
                    .zip(self.column(b))
                    .map(|(u, w)| u * w)
                    .sum();
                x[a * p + b] = v;
                x[b * p + a] = v;
            }
        }
        let eps = 1e-6;
        let mut l = vec![0.0; p * p];
        let mut u = vec![0.0; p * p];
        for i in 0..p {
            l[i * p + i] = 1.0;
        }
        for i in 0..p {
            for j in 0..p {
                let mut v = x[i * p + j];
                for k in 0..i {
                    v -= l[i * p + k] * u[k * p + j];
                }
                u[i * p + j] = v;
            }
            for j in (i + 1)..p {
                let mut v = x[j * p + i];
                for k in 0..i {
                    v -= l[j * p + k] * u[k * p + i];
                }
                l[j * p + i] = if u[i * p + i].abs() < eps {
                    0.0
                } else {
                    v / u[i * p + i]
                };
            }
        }
        for v in &mut l {
            if v.abs() < eps {
                *v = 0.0;
            }
        }
        l
    }

    /// Column names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.n_rows
    }

    /// Number of columns.
    pub fn n_cols(&self) -> usize {
        self.names.len()
    }

    /// Column `j`.
    ///
    /// # Panics
    /// If `j` is out of range.
    pub fn column(&self, j: usize) -> &[f64] {
        &self.data[j * self.n_rows..(j + 1) * self.n_rows]
    }
}

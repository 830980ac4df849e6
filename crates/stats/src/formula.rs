//! A parser for the mixed-model formulas of lme4, `RT ~ congruence + (1 + congruence | participant) + (1 | item)`,
//! into a typed model specification.
//!
//! Key design decision: the parser is pure — a string in, a [`ModelSpec`] or a [`FormulaError`]
//! out — and knows nothing of data. Names stay names (with their byte spans in the formula), so
//! the caller resolves them against its columns: [`ModelSpec::build`] asks a closure for each
//! variable's levels and codes (no dataframe crosses into this crate) and returns the fixed
//! design and random-term columns ready for [`crate::fit_mixed`], or an error that points an
//! unknown column or an uncodable term at its place in the formula.
//!
//! Supported, as R's `terms()` expands it: factors and covariates by name (bare or in
//! backticks), `a:b` interactions, `a*b` crossings (all main effects and interactions, in R's
//! order: by degree, then by first appearance), an intercept that `0` or `-1` removes (`1` keeps
//! it), and random terms `(1 + a | g)`, `(a | g)` (implicit intercept), `(0 + a | g)`, crossed by
//! listing several. Unsupported forms are errors that point at the term: `||` (uncorrelated
//! random effects), nested groupings `(1 | a/b)` and `(1 | a:b)`, functions such as `log(x)`,
//! `.`, `^`, `%in%`, offsets and numbers other than 0 and 1.

use std::fmt;

use crate::design::{DesignMatrix, FixedFactor};
use crate::lmm::{LmmFit, LmmOptions};
use crate::mixed::{RandomTerm, fit_mixed};

/// A byte range `start..end` of the formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Offset of the first byte.
    pub start: usize,
    /// Offset one past the last byte.
    pub end: usize,
}

/// A variable named in the formula.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    /// The name (without backticks).
    pub name: String,
    /// Where it is written.
    pub span: Span,
}

/// A fixed-effect term (or a column of a random term): one variable for a main effect, several
/// for their interaction (`a:b`), in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// The variables of the term.
    pub factors: Vec<Name>,
}

impl Term {
    /// The term as R labels it (`a`, `a:b`).
    pub fn label(&self) -> String {
        self.factors
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// A random-effects term `(intercept + terms | group)` with an unstructured covariance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RandomSpec {
    /// Whether the term has a random intercept.
    pub intercept: bool,
    /// Random slopes (and their interactions), expanded as fixed terms are.
    pub terms: Vec<Term>,
    /// The grouping factor.
    pub group: Name,
    /// The whole parenthesised term.
    pub span: Span,
}

/// A parsed model: `response ~ fixed + (random | group) + …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// The response variable.
    pub response: Name,
    /// Whether the fixed part has an intercept.
    pub intercept: bool,
    /// Fixed-effect terms in R's order (by degree, then first appearance), without duplicates.
    pub fixed: Vec<Term>,
    /// Random-effects terms in the order written.
    pub random: Vec<RandomSpec>,
    /// The formula as written (spans index into it).
    pub source: String,
}

/// What is wrong with a formula.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormulaErrorKind {
    /// A character that has no place in a formula.
    UnexpectedChar(char),
    /// Something other than what the grammar allows here; the string says what was expected.
    Expected(&'static str),
    /// The formula ends where more is needed; the string says what was expected.
    UnexpectedEnd(&'static str),
    /// Valid R syntax that the fitter does not support; the string names it.
    Unsupported(&'static str),
    /// A variable the data do not have (from [`ModelSpec::build`]).
    UnknownVariable(String),
    /// The data cannot be fitted as specified (from [`ModelSpec::build`]: a factor with one
    /// level, codes of the wrong length, a fit that fails); the string says why.
    Data(String),
}

/// A formula error and where it is: a byte span of the formula and the column (1-based, in
/// characters) of its start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct FormulaError {
    /// What is wrong.
    pub kind: FormulaErrorKind,
    /// The offending bytes.
    pub span: Span,
    /// Column of `span.start`, counted in characters from 1.
    pub column: usize,
}

impl fmt::Display for FormulaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: ", self.column)?;
        match &self.kind {
            FormulaErrorKind::UnexpectedChar(c) => write!(f, "unexpected character {c:?}"),
            FormulaErrorKind::Expected(what) => write!(f, "expected {what}"),
            FormulaErrorKind::UnexpectedEnd(what) => {
                write!(f, "the formula ends where {what} is expected")
            }
            FormulaErrorKind::Unsupported(what) => write!(f, "{what} is not supported"),
            FormulaErrorKind::UnknownVariable(name) => write!(f, "no variable named {name:?}"),
            FormulaErrorKind::Data(why) => write!(f, "{why}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Num(String),
    Tilde,
    Plus,
    Minus,
    Star,
    Colon,
    Bar,
    DoubleBar,
    LParen,
    RParen,
    Other(char),
    End,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn error(&self, kind: FormulaErrorKind, span: Span) -> FormulaError {
        FormulaError {
            kind,
            span,
            column: self.src[..span.start].chars().count() + 1,
        }
    }

    fn tokens(&mut self) -> Result<Vec<(Tok, Span)>, FormulaError> {
        let mut out = Vec::new();
        let bytes = self.src.as_bytes();
        loop {
            while self.pos < bytes.len() && (bytes[self.pos] as char).is_ascii_whitespace() {
                self.pos += 1;
            }
            let start = self.pos;
            let Some(c) = self.src[self.pos..].chars().next() else {
                out.push((Tok::End, Span { start, end: start }));
                return Ok(out);
            };
            let single = |t: Tok| (t, 1);
            let (tok, len) = match c {
                '~' => single(Tok::Tilde),
                '+' => single(Tok::Plus),
                '-' => single(Tok::Minus),
                '*' => single(Tok::Star),
                ':' => single(Tok::Colon),
                '(' => single(Tok::LParen),
                ')' => single(Tok::RParen),
                '|' if self.src[self.pos..].starts_with("||") => (Tok::DoubleBar, 2),
                '|' => single(Tok::Bar),
                '`' => {
                    let rest = &self.src[self.pos + 1..];
                    let Some(close) = rest.find('`') else {
                        return Err(self.error(
                            FormulaErrorKind::UnexpectedEnd("a closing backtick"),
                            Span {
                                start,
                                end: self.src.len(),
                            },
                        ));
                    };
                    (Tok::Name(rest[..close].to_string()), close + 2)
                }
                c if c.is_ascii_digit() => {
                    let len = self.src[self.pos..]
                        .find(|ch: char| !(ch.is_ascii_digit() || ch == '.'))
                        .unwrap_or(self.src.len() - self.pos);
                    (
                        Tok::Num(self.src[self.pos..self.pos + len].to_string()),
                        len,
                    )
                }
                c if c.is_alphabetic() || c == '.' || c == '_' => {
                    let len = self.src[self.pos..]
                        .find(|ch: char| !(ch.is_alphanumeric() || ch == '.' || ch == '_'))
                        .unwrap_or(self.src.len() - self.pos);
                    let word = &self.src[self.pos..self.pos + len];
                    // A lone `.` is R's "all other columns", not a name.
                    if word == "." {
                        (Tok::Other('.'), 1)
                    } else {
                        (Tok::Name(word.to_string()), len)
                    }
                }
                c => (Tok::Other(c), c.len_utf8()),
            };
            self.pos += len;
            out.push((
                tok,
                Span {
                    start,
                    end: self.pos,
                },
            ));
        }
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    toks: Vec<(Tok, Span)>,
    at: usize,
}

/// The most factors one `a*b*…` may cross (2⁸ − 1 terms).
const MAX_CROSSED: usize = 8;

/// One `+`-separated element of a sum: an intercept switch or a product of names.
enum Element {
    Intercept(bool),
    Product(Vec<Term>),
    Random(RandomSpec),
}

impl Parser<'_> {
    fn peek(&self) -> &(Tok, Span) {
        &self.toks[self.at]
    }

    fn bump(&mut self) -> (Tok, Span) {
        let t = self.toks[self.at].clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn err(&self, kind: FormulaErrorKind, span: Span) -> FormulaError {
        self.lexer.error(kind, span)
    }

    /// The error for an unexpected token where `what` was expected.
    fn unexpected(&self, what: &'static str) -> FormulaError {
        let (tok, span) = self.peek().clone();
        let kind = match tok {
            Tok::End => FormulaErrorKind::UnexpectedEnd(what),
            Tok::Other('.') => FormulaErrorKind::Unsupported("`.` (all other columns)"),
            Tok::Other('^') => FormulaErrorKind::Unsupported("`^` (interactions up to an order)"),
            Tok::Other('/') => FormulaErrorKind::Unsupported("`/` (nesting)"),
            Tok::Other('%') => FormulaErrorKind::Unsupported("`%in%`"),
            Tok::Other(c) => FormulaErrorKind::UnexpectedChar(c),
            Tok::DoubleBar => FormulaErrorKind::Unsupported("`||` (uncorrelated random effects)"),
            _ => FormulaErrorKind::Expected(what),
        };
        self.err(kind, span)
    }

    fn name(&mut self) -> Result<Name, FormulaError> {
        match self.peek().clone() {
            (Tok::Name(name), span) => {
                self.bump();
                if matches!(self.peek().0, Tok::LParen) {
                    let open = self.peek().1;
                    return Err(self.err(
                        FormulaErrorKind::Unsupported("a function of a variable"),
                        Span {
                            start: span.start,
                            end: open.end,
                        },
                    ));
                }
                Ok(Name { name, span })
            }
            _ => Err(self.unexpected("a variable name")),
        }
    }

    /// `name ((':' | '*') name)*`, expanded to its terms.
    fn product(&mut self) -> Result<Vec<Term>, FormulaError> {
        // Each factor of a crossing is a set of interaction terms; `:` multiplies the last set.
        let mut crossing: Vec<Vec<Name>> = vec![vec![self.name()?]];
        loop {
            match self.peek().0 {
                Tok::Colon => {
                    self.bump();
                    let n = self.name()?;
                    if let Some(last) = crossing.last_mut() {
                        last.push(n);
                    }
                }
                Tok::Star => {
                    self.bump();
                    crossing.push(vec![self.name()?]);
                }
                _ => break,
            }
        }
        // a*b*c: every non-empty subset of the crossing's parts, each the product of its parts.
        let k = crossing.len();
        if k > MAX_CROSSED {
            let span = Span {
                start: crossing[0][0].span.start,
                end: crossing[k - 1][0].span.end,
            };
            return Err(self.err(
                FormulaErrorKind::Unsupported("a crossing of more than 8 factors"),
                span,
            ));
        }
        let mut terms = Vec::new();
        for mask in 1u32..(1 << k) {
            let mut factors: Vec<Name> = Vec::new();
            for (i, part) in crossing.iter().enumerate() {
                if mask & (1 << i) != 0 {
                    for n in part {
                        if !factors.iter().any(|f| f.name == n.name) {
                            factors.push(n.clone());
                        }
                    }
                }
            }
            terms.push(Term { factors });
        }
        Ok(terms)
    }

    fn element(&mut self, in_random: bool) -> Result<Element, FormulaError> {
        match self.peek().clone() {
            (Tok::Num(n), span) => {
                self.bump();
                match n.as_str() {
                    "1" => Ok(Element::Intercept(true)),
                    "0" => Ok(Element::Intercept(false)),
                    _ => Err(self.err(
                        FormulaErrorKind::Unsupported("a number other than 0 or 1"),
                        span,
                    )),
                }
            }
            (Tok::Minus, span) => {
                self.bump();
                match self.peek().clone() {
                    (Tok::Num(n), s) if n == "1" => {
                        self.bump();
                        let _ = s;
                        Ok(Element::Intercept(false))
                    }
                    (_, s) => Err(self.err(
                        FormulaErrorKind::Unsupported("removing a term other than the intercept"),
                        Span {
                            start: span.start,
                            end: s.end,
                        },
                    )),
                }
            }
            (Tok::LParen, span) if !in_random => self.random(span).map(Element::Random),
            (Tok::LParen, span) => Err(self.err(
                FormulaErrorKind::Unsupported("parentheses inside a random term"),
                span,
            )),
            _ => self.product().map(Element::Product),
        }
    }

    fn random(&mut self, open: Span) -> Result<RandomSpec, FormulaError> {
        self.bump();
        let mut intercept = true;
        let mut terms: Vec<Term> = Vec::new();
        loop {
            match self.element(true)? {
                Element::Intercept(on) => intercept = on,
                Element::Product(ts) => push_terms(&mut terms, ts),
                Element::Random(r) => {
                    return Err(self.err(
                        FormulaErrorKind::Unsupported("a random term inside a random term"),
                        r.span,
                    ));
                }
            }
            match self.peek().0 {
                Tok::Plus => {
                    self.bump();
                }
                Tok::Minus => {}
                Tok::Bar => {
                    self.bump();
                    break;
                }
                Tok::RParen => {
                    let close = self.peek().1;
                    return Err(self.err(
                        FormulaErrorKind::Unsupported(
                            "a parenthesised group of fixed terms (write the terms out)",
                        ),
                        Span {
                            start: open.start,
                            end: close.end,
                        },
                    ));
                }
                _ => return Err(self.unexpected("`+` or `|`")),
            }
        }
        let group = self.name()?;
        match self.peek().clone() {
            (Tok::Colon, s) | (Tok::Other('/'), s) => Err(self.err(
                FormulaErrorKind::Unsupported("a nested grouping (`a/b`, `a:b`)"),
                Span {
                    start: group.span.start,
                    end: s.end,
                },
            )),
            (Tok::RParen, close) => {
                self.bump();
                if !intercept && terms.is_empty() {
                    return Err(self.err(
                        FormulaErrorKind::Expected("an intercept or a slope in the random term"),
                        Span {
                            start: open.start,
                            end: close.end,
                        },
                    ));
                }
                sort_terms(&mut terms);
                Ok(RandomSpec {
                    intercept,
                    terms,
                    group,
                    span: Span {
                        start: open.start,
                        end: close.end,
                    },
                })
            }
            _ => Err(self.unexpected("`)`")),
        }
    }
}

/// Appends terms not already present (R drops duplicates).
fn push_terms(terms: &mut Vec<Term>, new: Vec<Term>) {
    for t in new {
        let mut key: Vec<&str> = t.factors.iter().map(|f| f.name.as_str()).collect();
        key.sort_unstable();
        let seen = terms.iter().any(|u| {
            let mut k: Vec<&str> = u.factors.iter().map(|f| f.name.as_str()).collect();
            k.sort_unstable();
            k == key
        });
        if !seen {
            terms.push(t);
        }
    }
}

/// R's term order: by degree, stable within a degree.
fn sort_terms(terms: &mut [Term]) {
    terms.sort_by_key(|t| t.factors.len());
}

/// Parses an lme4 model formula.
///
/// ```
/// use cuelab_stats::formula::parse_formula;
/// let m = parse_formula("RT ~ congruence + (1 + congruence | participant) + (1 | item)").unwrap();
/// assert_eq!(m.response.name, "RT");
/// assert_eq!(m.fixed[0].label(), "congruence");
/// assert_eq!(m.random[0].group.name, "participant");
/// assert!(m.random[0].intercept && m.random[0].terms.len() == 1);
/// let err = parse_formula("RT ~ a + (1 + a || participant)").unwrap_err();
/// assert_eq!(err.column, 17);
/// ```
///
/// # Errors
/// A [`FormulaError`] pointing at the first offending token or term.
pub fn parse_formula(formula: &str) -> Result<ModelSpec, FormulaError> {
    let mut lexer = Lexer {
        src: formula,
        pos: 0,
    };
    let toks = lexer.tokens()?;
    let mut p = Parser { lexer, toks, at: 0 };
    let response = p.name()?;
    if !matches!(p.peek().0, Tok::Tilde) {
        return Err(p.unexpected("`~`"));
    }
    p.bump();
    let mut intercept = true;
    let mut fixed: Vec<Term> = Vec::new();
    let mut random = Vec::new();
    loop {
        match p.element(false)? {
            Element::Intercept(on) => intercept = on,
            Element::Product(ts) => push_terms(&mut fixed, ts),
            Element::Random(r) => random.push(r),
        }
        match p.peek().0 {
            Tok::Plus => {
                p.bump();
            }
            // `a - 1`: the element parser reads the minus.
            Tok::Minus => {}
            Tok::End => break,
            _ => return Err(p.unexpected("`+` or the end of the formula")),
        }
    }
    sort_terms(&mut fixed);
    Ok(ModelSpec {
        response,
        intercept,
        fixed,
        random,
        source: formula.to_string(),
    })
}

/// A categorical variable of the data, as [`ModelSpec::build`] asks for it by name.
#[derive(Debug, Clone, Copy)]
pub struct FactorData<'a> {
    /// Level labels, in the order of the codes.
    pub levels: &'a [String],
    /// Level code of each row.
    pub codes: &'a [u32],
    /// Reference level of its treatment coding (R's first level unless releveled).
    pub reference: usize,
}

/// One random term with its columns built (see [`ModelSpec::build`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BuiltTerm {
    /// Grouping factor name.
    pub group: String,
    /// Number of level codes of the grouping factor.
    pub n_levels: usize,
    /// Level code of each row.
    pub codes: Vec<u32>,
    /// Column names (`(Intercept)`, then slope columns named as the fixed ones).
    pub names: Vec<String>,
    /// The columns, one value per row each.
    pub columns: Vec<Vec<f64>>,
}

/// A model specification resolved against data: the fixed design and the random terms.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BuiltModel {
    /// The fixed-effects design (treatment coding), whose
    /// [`DesignMatrix::type3_hypotheses`] give lmerTest's type III table.
    pub x: DesignMatrix,
    /// The random terms in the order written.
    pub random: Vec<BuiltTerm>,
}

impl BuiltModel {
    /// Fits the model to the response `y` with [`fit_mixed`].
    ///
    /// # Errors
    /// As [`fit_mixed`].
    pub fn fit(&self, y: &[f64], options: &LmmOptions) -> crate::Result<LmmFit> {
        let columns: Vec<Vec<&[f64]>> = self
            .random
            .iter()
            .map(|t| t.columns.iter().map(Vec::as_slice).collect())
            .collect();
        let terms: Vec<RandomTerm<'_>> = self
            .random
            .iter()
            .zip(&columns)
            .map(|(t, c)| RandomTerm {
                group: &t.group,
                n_levels: t.n_levels,
                codes: &t.codes,
                names: &t.names,
                columns: c,
            })
            .collect();
        fit_mixed(y, &self.x, &terms, options)
    }
}

impl ModelSpec {
    /// Resolves the specification against data of `n_rows` rows, asking `factor` for each
    /// variable by name: the fixed design (intercept, main effects, interactions, treatment
    /// coded as R's default contrasts) and each random term's intercept and slope columns (the
    /// same dummies as the fixed part, products for interactions).
    ///
    /// What R codes differently without an intercept, and numeric covariates, are not built yet:
    /// a model without an intercept (fixed `0 +` / `- 1`, random `(0 + a | g)`) and an
    /// interaction whose main effects are not all in the same part are errors at the term.
    ///
    /// ```
    /// use cuelab_stats::formula::{FactorData, parse_formula};
    /// let spec = parse_formula("y ~ a + (1 + a | g)").unwrap();
    /// let a_levels = ["a1".to_string(), "a2".to_string()];
    /// let g_levels = ["g1".to_string(), "g2".to_string()];
    /// let a_codes = [0, 1, 0, 1];
    /// let g_codes = [0, 0, 1, 1];
    /// let model = spec
    ///     .build(4, &|name| match name {
    ///         "a" => Some(FactorData { levels: &a_levels, codes: &a_codes, reference: 0 }),
    ///         "g" => Some(FactorData { levels: &g_levels, codes: &g_codes, reference: 0 }),
    ///         _ => None,
    ///     })
    ///     .unwrap();
    /// assert_eq!(model.x.names(), ["(Intercept)", "aa2"]);
    /// assert_eq!(model.random[0].names, ["(Intercept)", "aa2"]);
    /// ```
    ///
    /// # Errors
    /// A [`FormulaError`] at the offending name or term: an unknown variable, an unsupported
    /// form (above), or data that do not fit (a factor with fewer than 2 levels, codes of the
    /// wrong length).
    pub fn build<'a>(
        &self,
        n_rows: usize,
        factor: &dyn Fn(&str) -> Option<FactorData<'a>>,
    ) -> Result<BuiltModel, FormulaError> {
        let src = self.source.as_str();
        let fixed_span = Span {
            start: self.response.span.start,
            end: self
                .fixed
                .iter()
                .flat_map(|t| t.factors.iter().map(|f| f.span.end))
                .max()
                .unwrap_or(self.response.span.end),
        };
        if !self.intercept {
            return Err(error_at(
                src,
                FormulaErrorKind::Unsupported("a model without an intercept"),
                fixed_span,
            ));
        }
        let x = design(src, n_rows, &self.fixed, factor)?;
        let mut random = Vec::new();
        for r in &self.random {
            if !r.intercept {
                return Err(error_at(
                    src,
                    FormulaErrorKind::Unsupported("a random term without an intercept"),
                    r.span,
                ));
            }
            let g = lookup(src, factor, &r.group)?;
            if g.codes.len() != n_rows {
                return Err(error_at(
                    src,
                    FormulaErrorKind::Data(format!(
                        "{} has {} values, not {n_rows}",
                        r.group.name,
                        g.codes.len()
                    )),
                    r.group.span,
                ));
            }
            let z = design(src, n_rows, &r.terms, factor)?;
            random.push(BuiltTerm {
                group: r.group.name.clone(),
                n_levels: g.levels.len(),
                codes: g.codes.to_vec(),
                names: z.names().to_vec(),
                columns: (0..z.n_cols()).map(|j| z.column(j).to_vec()).collect(),
            });
        }
        Ok(BuiltModel { x, random })
    }
}

/// A formula error at `span` of `source`.
fn error_at(source: &str, kind: FormulaErrorKind, span: Span) -> FormulaError {
    FormulaError {
        kind,
        span,
        column: source
            .get(..span.start)
            .map_or(span.start, |s| s.chars().count())
            + 1,
    }
}

fn lookup<'a>(
    src: &str,
    factor: &dyn Fn(&str) -> Option<FactorData<'a>>,
    name: &Name,
) -> Result<FactorData<'a>, FormulaError> {
    factor(&name.name).ok_or_else(|| {
        error_at(
            src,
            FormulaErrorKind::UnknownVariable(name.name.clone()),
            name.span,
        )
    })
}

/// Treatment-coded design of `terms` (intercept first), main effects before interactions.
fn design<'a>(
    src: &str,
    n_rows: usize,
    terms: &[Term],
    factor: &dyn Fn(&str) -> Option<FactorData<'a>>,
) -> Result<DesignMatrix, FormulaError> {
    let mut names: Vec<&Name> = Vec::new();
    let mut data: Vec<FactorData<'a>> = Vec::new();
    for t in terms.iter().filter(|t| t.factors.len() == 1) {
        names.push(&t.factors[0]);
        data.push(lookup(src, factor, &t.factors[0])?);
    }
    let mut interactions = Vec::new();
    for t in terms.iter().filter(|t| t.factors.len() > 1) {
        let mut idx = Vec::new();
        for f in &t.factors {
            match names.iter().position(|n| n.name == f.name) {
                Some(i) => idx.push(i),
                None => {
                    lookup(src, factor, f)?;
                    return Err(error_at(
                        src,
                        FormulaErrorKind::Unsupported(
                            "an interaction without its main effects in the same part",
                        ),
                        f.span,
                    ));
                }
            }
        }
        interactions.push(idx);
    }
    for (n, d) in names.iter().zip(&data) {
        if d.codes.len() != n_rows {
            return Err(error_at(
                src,
                FormulaErrorKind::Data(format!(
                    "{} has {} values, not {n_rows}",
                    n.name,
                    d.codes.len()
                )),
                n.span,
            ));
        }
    }
    let fixed: Vec<FixedFactor<'_>> = names
        .iter()
        .zip(&data)
        .map(|(n, d)| FixedFactor {
            name: &n.name,
            levels: d.levels,
            codes: d.codes,
            reference: d.reference,
        })
        .collect();
    DesignMatrix::treatment(n_rows, &fixed, &interactions).map_err(|e| {
        let span = names.first().map_or(Span { start: 0, end: 0 }, |n| n.span);
        error_at(src, FormulaErrorKind::Data(e.to_string()), span)
    })
}

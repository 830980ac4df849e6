//! Comparing results with recorded reference values (`analysis/<name>.expected.json`).
//!
//! The file's shape:
//!
//! ```json
//! {
//!   "source": "who computed the values (e.g. R 4.2.2, afex 1.2.1)",
//!   "tolerance": { "relative": 1e-6, "absolute": 1e-9 },
//!   "values": {
//!     "/anova/rm/effects/Music/F": 42.1309134218179,
//!     "/lmm/music/fixed/(Intercept)/df": { "value": 31.5405, "relative": 1e-4 }
//!   }
//! }
//! ```
//!
//! Each key is a JSON pointer (RFC 6901) into `results.json`; a value is a number, or an object
//! with `value` and its own `relative` / `absolute` tolerance. A value passes when
//! `|actual − expected| <= max(absolute, relative × |expected|)`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value as Json;

use crate::error::AnalysisError;

/// One compared value.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// JSON pointer.
    pub key: String,
    /// Reference value.
    pub expected: f64,
    /// Our value (None: missing from the results).
    pub actual: Option<f64>,
    /// Relative difference `|a − e| / |e|` (absolute when e = 0).
    pub rel_diff: Option<f64>,
    /// Within tolerance?
    pub ok: bool,
}

/// The outcome of comparing results with an expected file.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The expected file.
    pub expected_file: PathBuf,
    /// Every value compared, in the file's order.
    pub checks: Vec<Check>,
}

impl Comparison {
    /// Did every value pass?
    pub fn all_ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The values that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }
}

fn bad(path: &Path, message: impl Into<String>) -> AnalysisError {
    AnalysisError::Expected {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Compares `results` (the JSON of [`crate::Results`]) with the expected file at `path`.
pub fn compare_file(results: &Json, path: &Path) -> Result<Comparison, AnalysisError> {
    let text = std::fs::read_to_string(path).map_err(|source| AnalysisError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let expected: Json = serde_json::from_str(&text)
        .map_err(|e| bad(path, format!("{}:{}: {e}", e.line(), e.column())))?;
    compare(results, &expected, path)
}

/// Compares `results` with an already parsed expected document; `origin` names it in errors.
pub fn compare(
    results: &Json,
    expected: &Json,
    origin: &Path,
) -> Result<Comparison, AnalysisError> {
    let tol = expected.get("tolerance");
    let default_rel = tol
        .and_then(|t| t.get("relative"))
        .and_then(Json::as_f64)
        .unwrap_or(1e-6);
    let default_abs = tol
        .and_then(|t| t.get("absolute"))
        .and_then(Json::as_f64)
        .unwrap_or(0.0);
    let values = expected
        .get("values")
        .and_then(Json::as_object)
        .ok_or_else(|| bad(origin, "needs an object `values` of JSON pointer → number"))?;
    let mut checks = Vec::with_capacity(values.len());
    for (key, v) in values {
        let (want, rel, abs) = match v {
            Json::Number(n) => (n.as_f64(), default_rel, default_abs),
            Json::Object(o) => (
                o.get("value").and_then(Json::as_f64),
                o.get("relative")
                    .and_then(Json::as_f64)
                    .unwrap_or(default_rel),
                o.get("absolute")
                    .and_then(Json::as_f64)
                    .unwrap_or(default_abs),
            ),
            _ => (None, 0.0, 0.0),
        };
        let want = want.ok_or_else(|| {
            bad(
                origin,
                format!("`{key}`: expected a number or {{\"value\": number}}"),
            )
        })?;
        // A boolean result (a singular fit) compares as 0 or 1.
        let actual = results
            .pointer(key)
            .and_then(|v| v.as_f64().or_else(|| v.as_bool().map(f64::from)));
        let (rel_diff, ok) = match actual {
            Some(a) => {
                let diff = (a - want).abs();
                let rd = if want == 0.0 { diff } else { diff / want.abs() };
                (Some(rd), diff <= abs.max(rel * want.abs()))
            }
            None => (None, false),
        };
        checks.push(Check {
            key: key.clone(),
            expected: want,
            actual,
            rel_diff,
            ok,
        });
    }
    Ok(Comparison {
        expected_file: origin.to_path_buf(),
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(results: Json, expected: Json) -> Comparison {
        compare(&results, &expected, Path::new("x.expected.json")).unwrap()
    }

    #[test]
    fn within_relative_tolerance_passes_and_beyond_fails() {
        let results = json!({"anova": {"rm": {"F": 42.13091}}});
        let ok = check(
            results.clone(),
            json!({"values": {"/anova/rm/F": 42.130913}}),
        );
        assert!(ok.all_ok());
        let off = check(results, json!({"values": {"/anova/rm/F": 42.1312}}));
        assert!(!off.all_ok());
        assert_eq!(off.failures().count(), 1);
    }

    #[test]
    fn missing_key_fails_and_per_value_tolerance_applies() {
        let results = json!({"a": 1.001});
        let c = check(
            results,
            json!({"tolerance": {"relative": 1e-9}, "values": {"/a": {"value": 1.0, "relative": 1e-2}, "/b": 2.0}}),
        );
        assert!(c.checks[0].ok);
        assert!(!c.checks[1].ok && c.checks[1].actual.is_none());
    }

    #[test]
    fn pointer_keys_may_contain_spaces_and_escaped_slashes() {
        let results = json!({"p": {"control - upbeat": {"t": -5.913}, "a/b": 1.0}});
        let c = check(
            results,
            json!({"values": {"/p/control - upbeat/t": -5.913, "/p/a~1b": 1.0}}),
        );
        assert!(c.all_ok());
    }

    #[test]
    fn malformed_expected_is_a_typed_error() {
        let err = compare(&json!({}), &json!({"values": 3}), Path::new("e.json")).unwrap_err();
        assert!(matches!(err, AnalysisError::Expected { .. }));
    }
}

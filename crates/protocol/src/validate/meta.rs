//! Stimulus metadata for simulation and analysis: practice-only material, SAM valence and
//! arousal, scene labels, and per-second affect curves read from CSV files.

use toml::Spanned;

use super::Ctx;
use crate::diag::SourceMap;
use crate::model::{AffectPoint, StimulusKind};
use crate::raw::RawStimulusTable;

/// The longest affect curve, in rows (one per second: over 2 hours).
const MAX_CURVE_ROWS: usize = 10_000;

/// What a stimulus table says beyond its file and playback options.
#[derive(Default)]
pub(crate) struct Meta {
    pub practice: bool,
    pub valence: Option<f64>,
    pub arousal: Option<f64>,
    pub scene: Option<String>,
    pub curve: Option<Vec<AffectPoint>>,
}

fn sam(v: &Option<Spanned<f64>>, what: &str, cx: &mut Ctx<'_>) -> Option<f64> {
    let v = v.as_ref()?;
    let x = *v.get_ref();
    if !(1.0..=9.0).contains(&x) {
        cx.err_help(
            v.span(),
            format!("{what} {x} is outside the SAM scale 1..=9"),
            Some("valence and arousal are on the 9-point Self-Assessment Manikin scale".into()),
        );
        return None;
    }
    Some(x)
}

pub(crate) fn meta(t: &RawStimulusTable, kind: StimulusKind, cx: &mut Ctx<'_>) -> Meta {
    let scene = t.scene.as_ref().and_then(|s| {
        if kind == StimulusKind::Soundtrack {
            cx.err(
                s.span(),
                "`scene` labels a clip; a soundtrack has `valence`, `arousal` and `curve`",
            );
            return None;
        }
        if s.get_ref().trim().is_empty() || s.get_ref().len() > 64 {
            cx.err(s.span(), "a scene label is 1 to 64 characters");
            return None;
        }
        Some(s.get_ref().clone())
    });
    let curve = t.curve.as_ref().and_then(|c| {
        if kind == StimulusKind::Clip {
            cx.err(c.span(), "`curve` is a soundtrack's affect over time; clips have `valence`, `arousal` and `scene`");
            return None;
        }
        curve(c, cx)
    });
    Meta {
        practice: t.practice.as_ref().is_some_and(|p| *p.get_ref()),
        valence: sam(&t.valence, "valence", cx),
        arousal: sam(&t.arousal, "arousal", cx),
        scene,
        curve,
    }
}

/// Reads an affect curve: CSV `t_s,valence,arousal`, times increasing, values on the SAM scale.
fn curve(file: &Spanned<String>, cx: &mut Ctx<'_>) -> Option<Vec<AffectPoint>> {
    let (path, text) = cx.read_aux(file, "affect curve file")?;
    let name = cx.aux_name(&path);
    let map = SourceMap::new(&name, &text);
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = match rdr.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            cx.diags
                .push(map.diag(0..0, format!("affect curve: not valid CSV: {e}")));
            return None;
        }
    };
    let want = ["t_s", "valence", "arousal"];
    let idx: Vec<Option<usize>> = want
        .iter()
        .map(|w| headers.iter().position(|h| h == *w))
        .collect();
    if idx.iter().any(Option::is_none) {
        cx.diags.push(map.diag(
            0..0,
            "an affect curve needs the columns `t_s`, `valence` and `arousal`",
        ));
        return None;
    }
    let mut out: Vec<AffectPoint> = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let at = e.position().map_or(0, |p| p.byte() as usize);
                cx.diags
                    .push(map.diag(at..at, format!("affect curve: {e}")));
                return None;
            }
        };
        if out.len() >= MAX_CURVE_ROWS {
            let at = rec.position().map_or(0, |p| p.byte() as usize);
            cx.diags.push(map.diag(
                at..at,
                format!("an affect curve has at most {MAX_CURVE_ROWS} rows"),
            ));
            return None;
        }
        let start = rec.position().map_or(0, |p| p.byte() as usize);
        let mut values = [0.0f64; 3];
        for (k, w) in want.iter().enumerate() {
            let i = idx[k].expect("checked");
            let raw = rec.get(i).unwrap_or("");
            let at = start + super::field_offset(&text[start..], i);
            let ok_range = |x: f64| {
                if k == 0 {
                    x >= 0.0
                } else {
                    (1.0..=9.0).contains(&x)
                }
            };
            match raw.parse::<f64>() {
                Ok(x) if x.is_finite() && ok_range(x) => values[k] = x,
                _ => {
                    let want_what = if k == 0 {
                        "a time in seconds (≥ 0)"
                    } else {
                        "a number on the SAM scale 1..=9"
                    };
                    cx.diags
                        .push(map.diag(at..at, format!("`{w}` must be {want_what}, not `{raw}`")));
                    return None;
                }
            }
        }
        if let Some(last) = out.last()
            && values[0] <= last.t_s
        {
            let at = start + super::field_offset(&text[start..], idx[0].expect("checked"));
            cx.diags.push(map.diag(
                at..at,
                format!("times must increase: {} follows {}", values[0], last.t_s),
            ));
            return None;
        }
        out.push(AffectPoint {
            t_s: values[0],
            valence: values[1],
            arousal: values[2],
        });
    }
    if out.is_empty() {
        cx.err(file.span(), "affect curve file has no rows");
        return None;
    }
    Some(out)
}

//! The figures of `[continuous]`: one per rated item, the mean time course of every condition
//! with its Cousineau-Morey within-subject CI ribbon.
//!
//! The drawing is [`figures::time_course`]'s (so it follows that module's styling); only the
//! figure's name (`continuous_<item>`) and caption are this module's. That function writes its
//! files under a fixed stem, so with an output folder they are drawn into a private subfolder
//! and moved into place under this figure's name.

use std::path::Path;

use crate::error::AnalysisError;
use crate::figures::{self, Figure, Ribbon};
use crate::results::ContinuousResult;

/// The file stem of the figure of `item`.
pub(crate) fn name(item: &str) -> String {
    let safe: String = item
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("continuous_{safe}")
}

/// One figure per item of `result`; with `out_dir`, also written there as SVG and PNG.
pub(crate) fn continuous(
    result: &ContinuousResult,
    title: &str,
    out_dir: Option<&Path>,
) -> Result<Vec<Figure>, AnalysisError> {
    let mut out = Vec::new();
    for (item, levels) in result.items.iter() {
        let ribbons: Vec<Ribbon> = levels
            .iter()
            .map(|(level, course)| Ribbon {
                label: level.to_string(),
                points: course
                    .grid
                    .iter()
                    .map(|p| (p.t_ms / 1000.0, p.mean, p.ci_lower, p.ci_upper))
                    .collect(),
            })
            .collect();
        let stem = name(item);
        let y_label = format!("{item} (continuous rating)");
        let x_label = "time since clip onset (s)";
        let heading = format!("Continuous {item} by {}", result.condition);
        let figure = match out_dir {
            None => figures::time_course(&ribbons, x_label, &y_label, &heading, None)?,
            Some(dir) => {
                let scratch = dir.join(format!(".{stem}.drawing"));
                let io = |path: &Path| {
                    let path = path.to_path_buf();
                    move |source| AnalysisError::Io { path, source }
                };
                std::fs::create_dir_all(&scratch).map_err(io(&scratch))?;
                let drawn =
                    figures::time_course(&ribbons, x_label, &y_label, &heading, Some(&scratch));
                let moved = drawn.and_then(|f| {
                    for ext in ["svg", "png"] {
                        let from = scratch.join(format!("{}.{ext}", f.name));
                        let to = dir.join(format!("{stem}.{ext}"));
                        std::fs::rename(&from, &to).map_err(io(&from))?;
                    }
                    Ok(f)
                });
                std::fs::remove_dir_all(&scratch).map_err(io(&scratch))?;
                moved?
            }
        };
        out.push(Figure {
            name: stem,
            caption: format!(
                "{title}: continuous {item} ratings by {}, mean over {} participants (each trial resampled every {} ms, averaged per participant) with {}% Cousineau-Morey within-subject confidence ribbons",
                result.condition,
                result.n_subjects,
                result.grid_ms,
                result.conf_level * 100.0
            ),
            svg: figure.svg,
        });
    }
    Ok(out)
}

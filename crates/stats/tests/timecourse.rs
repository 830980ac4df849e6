//! Time courses of continuous ratings against R (tests/r/timecourse.R): `approx` resampling
//! onto a common grid, `which.max` peaks and `ccf` lags on irregularly sampled simulated ratings
//! that follow a designed curve 2–3 s late.

mod common;

use common::{REL, close, fixture, num};
use cuelab_stats::{best_lag, cross_correlation, peak, resample_linear};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

#[test]
fn resampling_peaks_and_lags_match_r() {
    let fx = fixture("timecourse");
    let grid = floats(&fx["grid"]);
    let curve = floats(&fx["curve"]);
    let max_lag = fx["max_lag"].as_u64().unwrap() as usize;
    let mut lags = Vec::new();
    for (i, s) in fx["series"].as_array().unwrap().iter().enumerate() {
        let on_grid = resample_linear(&floats(&s["t"]), &floats(&s["v"]), &grid).unwrap();
        for (j, (g, w)) in on_grid.iter().zip(floats(&s["resampled"])).enumerate() {
            close(&format!("series {i} point {j}"), *g, w, REL);
        }
        let p = peak(&grid, &on_grid).unwrap();
        assert_eq!(p.index as u64, s["peak_index"].as_u64().unwrap());
        close("peak time", p.time, num(s, "peak_time"), REL);
        close("peak value", p.value, num(s, "peak_value"), REL);
        let r = cross_correlation(&on_grid, &curve, max_lag).unwrap();
        for ((k, c), (wk, wc)) in r
            .iter()
            .zip(floats(&s["ccf_lag"]).iter().zip(floats(&s["ccf"])))
        {
            assert_eq!(*k as f64, *wk);
            close(&format!("series {i} ccf lag {k}"), *c, wc, REL);
        }
        let best = best_lag(&on_grid, &curve, max_lag).unwrap();
        assert_eq!(best.lag as f64, num(s, "best_lag"));
        close("best r", best.correlation, num(s, "best_r"), REL);
        lags.push(best.lag);
    }
    // The ratings follow the curve late, so every best lag is positive and they differ between
    // series: the comparison is not vacuous.
    assert!(lags.iter().all(|&l| l >= 1), "{lags:?}");
    assert!(lags.windows(2).any(|w| w[0] != w[1]), "{lags:?}");
}

//! Time courses of continuous ratings against R (tests/r/timecourse.R): `approx` resampling
//! onto a common grid, `which.max` peaks, `ccf`, and the best lag by the correlation of the
//! overlapping parts, on irregularly sampled simulated ratings that follow a designed curve
//! 2–3 s late.

mod common;

use common::{REL, close, fixture, num};
use cuelab_stats::{best_lag, cross_correlation, lagged_correlations, peak, resample_linear};
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
        let lagged = lagged_correlations(&on_grid, &curve, max_lag).unwrap();
        for ((k, c), w) in lagged.iter().zip(floats(&s["lag_r"])) {
            close(&format!("series {i} lag {k} r"), c.unwrap(), w, REL);
        }
        let best = best_lag(&on_grid, &curve, max_lag).unwrap();
        assert_eq!(best.lag as f64, num(s, "best_lag"));
        close("best r", best.correlation, num(s, "best_r"), REL);
        lags.push(best.lag);
    }
    // timecourse.R made the series 2, 2.5, 3 and 2 s late on a 0.5 s grid: the best lags are
    // exactly those (R's `which.max(ccf)` gives 2, 4, 5, 3 samples here — its divisor n pulls
    // the maximum towards 0 on trending curves).
    assert_eq!(lags, [4, 5, 6, 4]);
}

#[test]
fn a_constant_curve_has_no_best_lag() {
    let rating = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let err = best_lag(&rating, &[2.0; 6], 2).unwrap_err();
    assert!(err.to_string().contains("constant"), "{err}");
    assert!(best_lag(&rating, &[2.0; 5], 2).is_err());
    assert!(
        best_lag(&rating, &rating, 4).is_err(),
        "too few samples at lag 4"
    );
}

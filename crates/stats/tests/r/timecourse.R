# Continuous-rating time courses: resampling onto a common grid (approx, rule = 2), the peak
# (which.max), the cross-correlation (ccf) and the lag at which a rating follows a designed affect
# curve best (the highest Pearson correlation of the overlapping parts), on simulated
# ratings with irregular sampling (fixed seed). The simulated series are stored in the fixture.
source(file.path(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))), "common.R"))
set.seed(2013)
grid <- seq(0, 30, by = 0.5)
curve <- round(sin(grid / 4) + 0.5 * (grid > 15), 6)
series <- lapply(1:4, function(i) {
  # Irregular sample times (the slider is polled unevenly), a lag of 2-3 s, noise.
  t <- sort(c(0, cumsum(runif(80, 0.2, 0.55))))
  t <- round(t[t <= 31], 6)
  lag_s <- c(2, 2.5, 3, 2)[i]
  v <- round(approx(grid, curve, xout = t - lag_s, rule = 2)$y * 40 + 50 + rnorm(length(t), 0, 3), 6)
  on_grid <- approx(t, v, xout = grid, rule = 2)$y
  r <- ccf(on_grid, curve, lag.max = 12, plot = FALSE)
  lags <- r$lag[, 1, 1]; acf <- r$acf[, 1, 1]
  # The best lag: the Pearson correlation of the overlapping parts at each lag 0..12.
  n <- length(on_grid)
  lag_r <- sapply(0:12, function(k) cor(on_grid[(k + 1):n], curve[1:(n - k)]))
  k <- which.max(lag_r)
  list(t = t, v = v, resampled = on_grid, ccf_lag = lags, ccf = acf, lag_r = lag_r,
       best_lag = k - 1, best_r = lag_r[k],
       peak_index = which.max(on_grid) - 1, peak_time = grid[which.max(on_grid)],
       peak_value = max(on_grid))
})
write_fixture(list(versions = versions(), grid = grid, curve = curve, max_lag = 12,
                   series = series), "timecourse")

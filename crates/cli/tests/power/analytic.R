# The analytic power that `tests/power_cli.rs` compares `cuelab power` with (R, base stats only):
#   Rscript crates/cli/tests/power/analytic.R > crates/cli/tests/power/analytic.json
#
# The simulated study (model.toml, plan.toml, protocols/time-perception.toml). A verbal
# estimate of a clip of measured duration D under music m is exp(P), with
#   P = ln R + lambda (ln D - ln R) + beta[m] + u_p + w_c + e_perception + e_verbal
# (crates/session/src/simulate.rs). model.toml sets lambda = 1 and clip_sd = 0 (w_c = 0), and
# every test clip lasts 10 s, so the plan's log ratio ln(verbal / D) is
#   beta[m] + u_p + e,   e ~ N(0, perception_sd^2 + verbal_sd^2), independent per trial.
# Each participant sees every music level on 3 trials (4 clips x 3 repetitions, Latin square),
# so the difference of a participant's cell means, arousing - silence, is
#   beta[arousing] - beta[silence] + mean of 3 e - mean of 3 other e
# (u_p cancels): normal with mean delta = 0.12 and SD sqrt(2 (perception_sd^2 + verbal_sd^2) / 3).
# The paired t-test of the cell means is then exactly the test power.t.test(type = "paired")
# describes, with d_z = delta / SD (= sqrt(3) / 2 here). strict = TRUE counts rejections in
# both tails, as the simulated two-sided p-values do.
delta <- 0.12 - 0.0
perception_sd <- 0.12
verbal_sd <- 0.12
trials_per_level <- 3
sd_diff <- sqrt(2 * (perception_sd^2 + verbal_sd^2) / trials_per_level)
dz <- delta / sd_diff
n <- 8
alpha <- 0.05
power <- power.t.test(n = n, delta = dz, sd = 1, sig.level = alpha, type = "paired",
                      alternative = "two.sided", strict = TRUE)$power
cat(sprintf('{\n  "source": "%s; written by crates/cli/tests/power/analytic.R",\n  "delta": %.17g,\n  "perception_sd": %.17g,\n  "verbal_sd": %.17g,\n  "trials_per_level": %d,\n  "dz": %.17g,\n  "n": %d,\n  "alpha": %.17g,\n  "power": %.17g\n}\n',
            R.version.string, delta, perception_sd, verbal_sd, trials_per_level, dz, n, alpha, power))

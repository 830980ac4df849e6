# Reference values for crates/analysis/src/power.rs (R 4.2.2, base stats only):
#   Rscript crates/analysis/tests/r/power.R
# Clopper-Pearson intervals as binom.test gives them, and the analytic power of the paired
# t-test that the simulated power is compared with.
f <- function(k, n) sprintf("%.17g", binom.test(k, n)$conf.int)
cat("binom.test(0, 40):", f(0, 40), "\n")
cat("binom.test(7, 40):", f(7, 40), "\n")
cat("binom.test(40, 40):", f(40, 40), "\n")
cat("binom.test(13, 50):", f(13, 50), "\n")
cat("power.t.test(n = 12, delta = 0.8, sd = 1, type = 'paired'):",
    sprintf("%.17g", power.t.test(n = 12, delta = 0.8, sd = 1, type = "paired")$power), "\n")
cat("power.t.test(n = 24, delta = 0.5, sd = 1, type = 'paired'):",
    sprintf("%.17g", power.t.test(n = 24, delta = 0.5, sd = 1, type = "paired")$power), "\n")

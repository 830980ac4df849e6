# Effect sizes with CIs as the R package effectsize gives them by default: eta squared (partial,
# generalized, plain) with one-sided 95% CIs from the noncentral F on afex models, and Cohen's d_z
# with two-sided 95% CIs from the noncentral t. Data: fixtures/anova_unbalanced.csv (mixed,
# unequal groups) and the bundled MusicTime data.
source(file.path(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))), "common.R"))
suppressPackageStartupMessages(library(effectsize))

# effectsize inverts the noncentral distributions with optim(abstol = 1e-9), which leaves its
# limits a few units in the 7th digit off the root; the same limits found by uniroot at full
# tolerance are recorded beside them (`*_root`) so the Rust code is held to both.
f_root <- function(es, df1, df2, level = 0.95) {
  f <- (es / df1) / ((1 - es) / df2)
  if (pf(f, df1, df2) <= level) return(0)
  g <- function(ncp) pf(f, df1, df2, ncp = ncp) - level
  hi <- max(1, f * df1); while (g(hi) > 0) hi <- hi * 2
  l <- uniroot(g, c(0, hi), tol = 1e-13)$root
  l / (l + df2)
}
t_root <- function(dz, n, p) {
  t <- dz * sqrt(n)
  uniroot(function(ncp) pt(t, n - 1, ncp = ncp) - p, c(t - 20, t + 20), tol = 1e-13)$root / sqrt(n)
}
es_rows <- function(fit, ...) {
  e <- as.data.frame(eta_squared(fit, ci = 0.95, ...))
  a <- fit$anova_table
  lapply(seq_len(nrow(e)), function(i) list(effect = e$Parameter[i], estimate = e[i, 2],
    ci = e$CI[i], ci_low = e$CI_low[i], ci_high = e$CI_high[i],
    ci_low_root = f_root(max(0, e[i, 2]), a[e$Parameter[i], "num Df"], a[e$Parameter[i], "den Df"])))
}
all_es <- function(fit) list(partial = es_rows(fit, partial = TRUE),
  generalized = es_rows(fit, generalized = TRUE), plain = es_rows(fit, partial = FALSE))

u <- read.csv(file.path(script_dir(), "../fixtures/anova_unbalanced.csv"))
none <- list(correction = "none")
mixed <- aov_car(y ~ G + Error(id / (A * B)), data = u, anova_table = none)
mixed_obs <- aov_car(y ~ G + Error(id / (A * B)), data = u, observed = "G", anova_table = none)

d <- read.csv(file.path(script_dir(), "../../../../datasets/musictime/musictime.csv"))
levels <- c("control", "upbeat", "calm")
d$Music <- factor(d$Music, levels = levels)
rm <- aov_car(TimeGuess ~ Error(Subject / Music), data = d, anova_table = list(correction = "none"))
# The between factor is renamed: effectsize assigns effects to error strata by grepl() on the
# names, so a between factor whose name contains a within factor's ("MusicBg" ~ "Music") gets
# the wrong error term.
d$Background <- d$MusicBg
mt_mixed <- aov_car(TimeGuess ~ Background + Error(Subject / Music), data = d,
                    anova_table = list(correction = "none"))

wide <- reshape(d[, c("Subject", "Music", "TimeGuess")], idvar = "Subject", timevar = "Music",
                direction = "wide")
wide <- wide[order(as.integer(sub("subj", "", wide$Subject))), ]
pairs <- combn(levels, 2)
dz <- lapply(seq_len(ncol(pairs)), function(k) {
  x <- wide[[paste0("TimeGuess.", pairs[1, k])]]; y <- wide[[paste0("TimeGuess.", pairs[2, k])]]
  cd <- cohens_d(x, y, paired = TRUE, ci = 0.95)
  list(a = pairs[1, k], b = pairs[2, k], dz = cd$Cohens_d, ci_low = cd$CI_low, ci_high = cd$CI_high,
       ci_low_root = t_root(cd$Cohens_d, length(x), 0.975),
       ci_high_root = t_root(cd$Cohens_d, length(x), 0.025))
})
# A small sample with a large effect, and a 90% interval.
x <- c(12.1, 14.3, 11.8, 15.2, 13.9, 12.7); y <- c(10.2, 11.9, 11.1, 12.4, 11.8, 10.1)
small <- cohens_d(x, y, paired = TRUE, ci = 0.9)

write_fixture(list(
  versions = c(versions(), effectsize = as.character(packageVersion("effectsize"))),
  mixed = all_es(mixed),
  mixed_observed_G = list(generalized = es_rows(mixed_obs, generalized = TRUE)),
  musictime_rm = all_es(rm),
  musictime_mixed = all_es(mt_mixed),
  musictime_dz = dz,
  small_dz = list(x = x, y = y, dz = small$Cohens_d, ci = 0.9, ci_low = small$CI_low,
                  ci_high = small$CI_high, ci_low_root = t_root(small$Cohens_d, 6, 0.95),
                  ci_high_root = t_root(small$Cohens_d, 6, 0.05))
), "effsize")

# A mixed ANOVA with an unbalanced three-level between factor and two within factors (3 x 2),
# simulated with a fixed seed; the data are written to fixtures/anova_unbalanced.csv.
source(file.path(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))), "common.R"))
set.seed(7)
sizes <- c(g1 = 5, g2 = 7, g3 = 9)
ids <- sprintf("s%02d", seq_len(sum(sizes)))
group <- rep(names(sizes), sizes)
d <- expand.grid(A = c("a1", "a2", "a3"), B = c("b1", "b2"), id = ids, stringsAsFactors = FALSE)
d$G <- group[match(d$id, ids)]
subj <- rnorm(length(ids), 0, 2)[match(d$id, ids)]
# Unequal variances across A levels, so sphericity is violated.
d$y <- round(10 + subj + c(a1 = 0, a2 = 1, a3 = 2.5)[d$A] * (d$B == "b2") +
  c(g1 = 0, g2 = 0.5, g3 = -1)[d$G] + rnorm(nrow(d), 0, c(a1 = 0.5, a2 = 1.5, a3 = 3)[d$A]), 4)
write.csv(d[, c("id", "G", "A", "B", "y")], file.path(script_dir(), "../fixtures/anova_unbalanced.csv"),
          row.names = FALSE)
fit <- aov_car(y ~ G + Error(id / (A * B)), data = d)
# Between-only (subject means) and within-only (no group) designs on the same data.
sm <- aggregate(y ~ id + G, data = d, FUN = mean)
between_fit <- aov_car(y ~ G + Error(id), data = sm)
within_fit <- aov_car(y ~ Error(id / (A * B)), data = d)
# A nearly spherical 4-level design whose Huynh-Feldt epsilon exceeds 1 (capped for df and p).
set.seed(2)
h <- expand.grid(C = c("c1", "c2", "c3", "c4"), id = sprintf("s%02d", 1:12), stringsAsFactors = FALSE)
h$y <- round(rnorm(12, 0, 1)[as.integer(sub("s", "", h$id))] + rnorm(nrow(h)), 4)
write.csv(h, file.path(script_dir(), "../fixtures/anova_hf_above_one.csv"), row.names = FALSE)
hf_fit <- aov_car(y ~ Error(id / C), data = h)
hf_rows <- anova_rows(hf_fit)
stopifnot(hf_rows[[2]]$hf_eps > 1)
write_fixture(list(
  versions = versions(),
  anova = anova_rows(fit),
  anova_observed_G = anova_rows(fit, observed = "G"),
  between_only = anova(between_fit, es = c("ges", "pes"), intercept = TRUE),
  within_only = anova_rows(within_fit),
  hf_above_one = hf_rows
), "anova_unbalanced")

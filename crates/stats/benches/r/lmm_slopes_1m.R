# The R side of benches/stats.rs `lmm_slopes_1m_rows`: the same model (1,000 participants x
# 1,000 trials over 50 items, congruence within participants and items; participant intercept
# SD 60, congruence slope SD 25, correlation 0.4; item SD 30; residual SD 70) simulated in R,
# fitted with lmerTest::lmer (REML, lme4's default optimizer) and summarised with Satterthwaite
# df. Prints seconds. Run: Rscript crates/stats/benches/r/lmm_slopes_1m.R
suppressPackageStartupMessages(library(lmerTest))
set.seed(1995)
n_p <- 1000; n_i <- 50; per <- 1000
participant <- rep(seq_len(n_p), each = per)
item <- sample.int(n_i, n_p * per, replace = TRUE)
k <- sample.int(2, n_p * per, replace = TRUE) - 1
z1 <- rnorm(n_p); z2 <- rnorm(n_p)
a <- 60 * z1; b <- 25 * (0.4 * z1 + sqrt(1 - 0.16) * z2)
y <- 600 + 35 * k + a[participant] + b[participant] * k + rnorm(n_i, 0, 30)[item] +
  rnorm(n_p * per, 0, 70)
d <- data.frame(RT = y, congruence = factor(c("congruent", "incongruent")[k + 1]),
                participant = factor(participant), item = factor(item))
t_fit <- system.time(m <- lmer(RT ~ congruence + (1 + congruence | participant) + (1 | item),
                               data = d))
t_sum <- system.time(s <- summary(m))
cat(sprintf("lmer fit %.2f s, lmerTest summary (Satterthwaite) %.2f s, total %.2f s\n",
            t_fit[["elapsed"]], t_sum[["elapsed"]], t_fit[["elapsed"]] + t_sum[["elapsed"]]))
print(s$coefficients)
print(VarCorr(m))

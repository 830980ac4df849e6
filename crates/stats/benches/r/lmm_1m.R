# The R side of benches/stats.rs `lmm_crossed_1m_rows`: the same design (1,000 participants x
# 50 clips, 1,000 trials each, a 4-level fixed factor, SDs 0.3 / 0.15 / 0.25) simulated in R,
# fitted with lmerTest::lmer (REML) and summarised with Satterthwaite df. Prints seconds.
# Run: Rscript crates/stats/benches/r/lmm_1m.R
suppressPackageStartupMessages(library(lmerTest))
set.seed(42)
n_p <- 1000; n_c <- 50; per <- 1000
participant <- rep(seq_len(n_p), each = per)
clip <- sample.int(n_c, n_p * per, replace = TRUE)
music <- sample.int(4, n_p * per, replace = TRUE)
y <- c(0, 0.12, -0.08, 0.05)[music] + rnorm(n_p, 0, 0.3)[participant] + rnorm(n_c, 0, 0.15)[clip] +
  rnorm(n_p * per, 0, 0.25)
d <- data.frame(y = y, music = factor(c("silence", "arousing", "relaxing", "sad")[music],
                                      levels = c("silence", "arousing", "relaxing", "sad")),
                participant = factor(participant), clip = factor(clip))
t_fit <- system.time(m <- lmer(y ~ music + (1 | participant) + (1 | clip), data = d))
t_sum <- system.time(s <- summary(m))
cat(sprintf("lmer fit %.2f s, lmerTest summary (Satterthwaite) %.2f s, total %.2f s\n",
            t_fit[["elapsed"]], t_sum[["elapsed"]], t_fit[["elapsed"]] + t_sum[["elapsed"]]))
print(s$coefficients)

# The R side of benches/stats.rs `rm_anova_mixed_1000_subjects_2x2`: afex::aov_car on 1,000
# subjects (2 unequal groups) x 2 x 2 within cells, timed over 5 runs. Prints seconds per run.
# Run: Rscript crates/stats/benches/r/anova_1000.R
suppressPackageStartupMessages(library(afex))
set.seed(7)
n <- 1000
d <- expand.grid(Target = c("n", "p"), Prime = c("n", "p"), id = factor(seq_len(n)))
d$Group <- factor(ifelse(as.integer(d$id) %% 3 == 1, "b", "a"))
d$y <- rnorm(n)[as.integer(d$id)] + rnorm(nrow(d), 0, 0.5)
t <- system.time(for (i in 1:5) fit <- suppressMessages(aov_car(y ~ Group + Error(id / (Prime * Target)), data = d)))
cat(sprintf("afex::aov_car mixed 2x2, 1000 subjects: %.3f s per run\n", t[["elapsed"]] / 5))

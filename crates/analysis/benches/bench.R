# The benchmark analysis in R (afex + lme4/lmerTest), the same as bench.toml.
# usage: Rscript bench.R DATA.csv   — prints per-step seconds and the key numbers.
suppressPackageStartupMessages({
  library(data.table); library(afex); library(lme4); library(lmerTest)
})
args <- commandArgs(trailingOnly = TRUE)
step <- function(name, expr) {
  t0 <- proc.time()[["elapsed"]]
  v <- force(expr)
  cat(sprintf("R step %-14s %8.2f s\n", name, proc.time()[["elapsed"]] - t0))
  v
}
t_all <- proc.time()[["elapsed"]]
d <- step("read", fread(args[1]))
d <- step("exclude", d[correct == 1])
d[, music := factor(music, levels = c("silence", "relaxing", "arousing"))]
d[, congruence := factor(congruence, levels = c("congruent", "incongruent"))]
desc <- step("descriptives", {
  a <- d[, .(rt = mean(rt)), by = .(participant, music, congruence)]
  a[, norm := rt - mean(rt), by = participant][, norm := norm + mean(a$rt)]
  a[, .(mean = mean(rt), sd = sd(rt), se_within = sd(norm) / sqrt(.N) * sqrt(6 / 5)), by = .(music, congruence)]
})
fit <- step("rm-anova", suppressMessages(aov_ez("participant", "rt", d, within = c("music", "congruence"), fun_aggregate = mean)))
pw <- step("pairwise", {
  a <- d[, .(rt = mean(rt)), by = .(participant, music)]
  w <- dcast(a, participant ~ music, value.var = "rt")
  prs <- list(c("silence", "relaxing"), c("silence", "arousing"), c("relaxing", "arousing"))
  p <- sapply(prs, function(x) t.test(w[[x[1]]], w[[x[2]]], paired = TRUE)$p.value)
  p.adjust(p, "holm")
})
m <- step("lmm-fit", lmer(rt ~ music + congruence + (1 | participant) + (1 | clip), data = d, REML = TRUE))
co <- step("lmm-satterth", summary(m)$coefficients)
cat(sprintf("R total %.2f s\n", proc.time()[["elapsed"]] - t_all))
cat(sprintf("R check: n=%d F(music)=%.6g p_holm=%s b(arousing)=%.6g df=%.6g\n", nrow(d),
            anova(fit)["music", "F"], paste(signif(pw, 4), collapse = "/"),
            co["musicarousing", "Estimate"], co["musicarousing", "df"]))

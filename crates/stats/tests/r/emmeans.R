# Pairwise comparisons of within-subject levels in mixed designs as emmeans gives them on afex
# models (afex's default multivariate model, Holm), on fixtures/anova_unbalanced.csv (groups of
# 5, 7 and 9 subjects) and on MusicTime (Music within, MusicBg between).
source(file.path(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))), "common.R"))
suppressPackageStartupMessages(library(emmeans))
emm_rows <- function(fit, spec) {
  e <- emmeans(fit, as.formula(paste("pairwise ~", spec)), adjust = "holm")
  m <- as.data.frame(summary(e$emmeans))
  c1 <- as.data.frame(summary(e$contrasts, infer = c(TRUE, TRUE), adjust = "holm"))
  c0 <- as.data.frame(summary(e$contrasts, infer = c(TRUE, TRUE), adjust = "none"))
  list(
    means = lapply(seq_len(nrow(m)), function(i) list(level = as.character(m[i, 1]),
      mean = m$emmean[i], se = m$SE[i], df = m$df[i], ci_lower = m$lower.CL[i],
      ci_upper = m$upper.CL[i])),
    contrasts = lapply(seq_len(nrow(c1)), function(i) list(contrast = as.character(c1$contrast[i]),
      estimate = c1$estimate[i], se = c1$SE[i], df = c1$df[i], t = c1$t.ratio[i],
      p = c0$p.value[i], p_holm = c1$p.value[i], ci_lower = c0$lower.CL[i],
      ci_upper = c0$upper.CL[i])))
}
u <- read.csv(file.path(script_dir(), "../fixtures/anova_unbalanced.csv"))
mixed <- aov_car(y ~ G + Error(id / (A * B)), data = u)
d <- read.csv(file.path(script_dir(), "../../../../datasets/musictime/musictime.csv"))
d$Music <- factor(d$Music, levels = c("control", "upbeat", "calm"))
mt <- aov_car(TimeGuess ~ MusicBg + Error(Subject / Music), data = d)
write_fixture(list(
  versions = c(versions(), emmeans = as.character(packageVersion("emmeans"))),
  model = afex_options("emmeans_model"),
  unbalanced_A = emm_rows(mixed, "A"),
  unbalanced_B = emm_rows(mixed, "B"),
  musictime_music = emm_rows(mt, "Music")
), "emmeans")

# A crossed random-intercepts design (participants x clips), unbalanced with missing trials,
# simulated with a fixed seed; the data are written to fixtures/crossed.csv for the Rust test.
source(file.path(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))), "common.R"))
set.seed(20240611)
n_part <- 36; n_clip <- 18
music <- c("arousing", "relaxing", "silence")
d <- expand.grid(participant = sprintf("p%02d", 1:n_part), clip = sprintf("c%02d", 1:n_clip),
                 stringsAsFactors = FALSE)
# Music rotates over clips across participants (Latin-square style).
pi_ <- as.integer(sub("p", "", d$participant)); ci_ <- as.integer(sub("c", "", d$clip))
d$music <- music[(pi_ + ci_) %% 3 + 1]
d$actual <- c(8, 16, 32)[(ci_ %% 3) + 1]
u_p <- rnorm(n_part, 0, 0.35); u_c <- rnorm(n_clip, 0, 0.15)
eff <- c(arousing = 0.12, relaxing = -0.08, silence = 0)
d$log_ratio <- -0.05 + eff[d$music] + u_p[pi_] + u_c[ci_] + rnorm(nrow(d), 0, 0.25)
# Missing trials: 12% at random, and the last 6 participants lost their last third of clips.
keep <- runif(nrow(d)) > 0.12 & !(pi_ > 30 & ci_ > 12)
d <- d[keep, ]
d$log_ratio <- round(d$log_ratio, 6)
write.csv(d[, c("participant", "clip", "music", "actual", "log_ratio")],
          file.path(script_dir(), "../fixtures/crossed.csv"), row.names = FALSE)
d <- read.csv(file.path(script_dir(), "../fixtures/crossed.csv"))
d$music <- relevel(factor(d$music), ref = "silence")

m <- lmer(log_ratio ~ music + (1 | participant) + (1 | clip), data = d)
mt <- lmer(log_ratio ~ music + (1 | participant) + (1 | clip), data = d, control = tight)
ct <- contest1D(mt, c(0, 1, -1))
d$dur <- factor(d$actual)
mx <- lmer(log_ratio ~ music * dur + (1 | participant) + (1 | clip), data = d, control = tight)
ml <- lmer(log_ratio ~ music + (1 | participant) + (1 | clip), data = d, control = tight, REML = FALSE)

# Per-participant Vierordt slope (estimate = actual * exp(log ratio)) and CV of the estimates
# at the 16 s duration.
d$estimate <- d$actual * exp(d$log_ratio)
vier <- lapply(split(d, d$participant), function(s) {
  f <- lm(estimate ~ actual, data = s)
  e16 <- s$estimate[s$actual == 16]
  list(participant = s$participant[1], slope = unname(coef(f)[2]), intercept = unname(coef(f)[1]),
       r_squared = summary(f)$r.squared, cv16 = sd(e16) / mean(e16))
})

# A boundary fit: no clip variance in the generating model, so lme4 puts the clip SD at 0.
set.seed(2)
s <- expand.grid(participant = sprintf("p%02d", 1:20), clip = sprintf("c%02d", 1:10), stringsAsFactors = FALSE)
s$music <- c("arousing", "relaxing", "silence")[(as.integer(sub("p", "", s$participant)) +
  as.integer(sub("c", "", s$clip))) %% 3 + 1]
s$log_ratio <- round(0.1 * (s$music == "arousing") + rnorm(20, 0, 0.3)[as.integer(sub("p", "", s$participant))] +
  rnorm(nrow(s), 0, 0.3), 6)
s <- s[runif(nrow(s)) > 0.1, ]
write.csv(s, file.path(script_dir(), "../fixtures/crossed_singular.csv"), row.names = FALSE)
s <- read.csv(file.path(script_dir(), "../fixtures/crossed_singular.csv"))
s$music <- relevel(factor(s$music), ref = "silence")
ms <- lmer(log_ratio ~ music + (1 | participant) + (1 | clip), data = s, control = tight)
stopifnot(isSingular(ms))

write_fixture(list(
  versions = versions(),
  lmm_anova = lmm_anova(mt),
  n_obs = nrow(d),
  lmm = lmm_result(m),
  lmm_tight = lmm_result(mt),
  contrast_arousing_minus_relaxing = list(estimate = ct$Estimate, se = ct$`Std. Error`, df = ct$df,
                                          t = ct$`t value`, p = ct$`Pr(>|t|)`),
  ml = c(lmm_result(ml), list(deviance = unname(deviance(ml)))),
  vierordt = unname(vier),
  singular = lmm_result(ms),
  interaction = lmm_result(mx),
  interaction_anova = lmm_anova(mx)
), "crossed")

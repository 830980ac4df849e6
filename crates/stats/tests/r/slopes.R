# Random slopes: (1 + A | subject) with correlated intercept and slope, alone and crossed with
# (1 | item), REML with lmerTest's Satterthwaite df and type III table, on
#  - a MusicTime-like design simulated here (fixtures/slopes_musictime.csv: 24 subjects, three
#    music conditions, several trials per cell, some missing) with a 3 x 3 covariance,
#  - the priming data (/work/shared/datasets/priming), correct trials,
#  - an unbalanced crossed design simulated here (fixtures/slopes_crossed.csv: participants x
#    items, congruence and block, missing trials),
#  - fixtures/crossed.csv (tests/r/crossed.R; participants x clips, three music conditions) with
#    a 3 x 3 participant covariance crossed with clips,
#  - fixtures/crossed_singular.csv, simulated without slopes and without clip variance, where
#    lme4 reports a singular fit.
source(file.path(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))), "common.R"))

slope_result <- function(m) {
  s <- summary(m)
  cf <- s$coefficients
  vc <- as.data.frame(VarCorr(m), order = "lower.tri")
  list(
    fixed = lapply(rownames(cf), function(n) list(name = n, estimate = cf[n, "Estimate"],
      se = cf[n, "Std. Error"], df = cf[n, "df"], t = cf[n, "t value"], p = cf[n, "Pr(>|t|)"])),
    varcorr = lapply(seq_len(nrow(vc)), function(i) list(group = vc$grp[i], var1 = vc$var1[i],
      var2 = if (is.na(vc$var2[i])) NULL else vc$var2[i], vcov = vc$vcov[i], sdcor = vc$sdcor[i])),
    residual_sd = sigma(m),
    theta = unname(getME(m, "theta")),
    theta_names = names(getME(m, "theta")),
    reml_criterion = unname(REMLcrit(m)),
    singular = isSingular(m),
    n_obs = nobs(m),
    anova = lmm_anova(m))
}

# 1. MusicTime-like: time estimates of 45 s under three music conditions, 4 trials per cell.
set.seed(45)
n_s <- 24
d <- expand.grid(trial = 1:4, Music = c("control", "upbeat", "calm"), Subject = sprintf("s%02d", 1:n_s),
                 stringsAsFactors = FALSE)
si <- as.integer(sub("s", "", d$Subject))
u <- MASS::mvrnorm(n_s, c(0, 0, 0), matrix(c(64, -10, 8, -10, 25, 4, 8, 4, 36), 3))
mi <- match(d$Music, c("control", "upbeat", "calm"))
d$TimeGuess <- round(45 + c(0, 6, -4)[mi] + u[si, 1] + ifelse(mi == 2, u[si, 2], 0) +
  ifelse(mi == 3, u[si, 3], 0) + rnorm(nrow(d), 0, 5), 3)
d <- d[runif(nrow(d)) > 0.1, ]
write.csv(d[, c("Subject", "Music", "trial", "TimeGuess")],
          file.path(script_dir(), "../fixtures/slopes_musictime.csv"), row.names = FALSE)
d <- read.csv(file.path(script_dir(), "../fixtures/slopes_musictime.csv"))
m_music <- lmer(TimeGuess ~ Music + (1 + Music | Subject), data = d, control = tight)

# 2. Priming: congruence slopes per participant.
p <- read.csv(file.path(script_dir(), "../../../../../shared/datasets/priming/priming.csv"))
p <- p[p$Correct == "Correct", ]
p$Participant <- factor(p$Participant)
m_priming <- lmer(RT ~ Congruence + (1 + Congruence | Participant), data = p, control = tight)

# 3. Unbalanced crossed: participants x items, congruence within both, two blocks.
set.seed(1995)
n_p <- 30; n_i <- 16
c3 <- expand.grid(participant = sprintf("p%02d", 1:n_p), item = sprintf("i%02d", 1:n_i),
                  stringsAsFactors = FALSE)
pi_ <- as.integer(sub("p", "", c3$participant)); ii <- as.integer(sub("i", "", c3$item))
c3$congruence <- c("congruent", "incongruent")[(pi_ + ii) %% 2 + 1]
c3$block <- c("first", "second")[(ii > n_i / 2) + 1]
up <- MASS::mvrnorm(n_p, c(0, 0), matrix(c(60^2, 0.4 * 60 * 25, 0.4 * 60 * 25, 25^2), 2))
ui <- rnorm(n_i, 0, 30)
inc <- c3$congruence == "incongruent"
c3$RT <- round(600 + 35 * inc - 10 * (c3$block == "second") + up[pi_, 1] + inc * up[pi_, 2] +
  ui[ii] + rnorm(nrow(c3), 0, 70), 2)
c3 <- c3[runif(nrow(c3)) > 0.15 & !(pi_ > 26 & ii > 12), ]
write.csv(c3, file.path(script_dir(), "../fixtures/slopes_crossed.csv"), row.names = FALSE)
c3 <- read.csv(file.path(script_dir(), "../fixtures/slopes_crossed.csv"))
m_crossed <- lmer(RT ~ congruence + (1 + congruence | participant) + (1 | item), data = c3,
                  control = tight)
m_crossed_ml <- lmer(RT ~ congruence + (1 + congruence | participant) + (1 | item), data = c3,
                     control = tight, REML = FALSE)
m_crossed_block <- lmer(RT ~ congruence * block + (1 + congruence | participant) + (1 | item),
                        data = c3, control = tight)

# 4. Three music conditions crossed with clips (unbalanced, missing trials).
cm <- read.csv(file.path(script_dir(), "../fixtures/crossed.csv"))
cm$music <- relevel(factor(cm$music), ref = "silence")
m_crossed_music <- lmer(log_ratio ~ music + (1 + music | participant) + (1 | clip), data = cm,
                        control = tight)

# 5. Singular: no slopes and no clip variance in the generating model of crossed_singular.csv.
s <- read.csv(file.path(script_dir(), "../fixtures/crossed_singular.csv"))
s$music <- relevel(factor(s$music), ref = "silence")
m_singular <- lmer(log_ratio ~ music + (1 + music | participant) + (1 | clip), data = s,
                   control = tight)
stopifnot(isSingular(m_singular), !isSingular(m_crossed), !isSingular(m_music),
          !isSingular(m_crossed_music))

write_fixture(list(
  versions = versions(),
  musictime = slope_result(m_music),
  priming = slope_result(m_priming),
  crossed = slope_result(m_crossed),
  crossed_ml = c(slope_result(m_crossed_ml), list(deviance = unname(deviance(m_crossed_ml)))),
  crossed_block = slope_result(m_crossed_block),
  crossed_music = slope_result(m_crossed_music),
  singular = slope_result(m_singular)
), "slopes")

source(file.path(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))), "common.R"))
d <- read.csv(file.path(script_dir(), "../../../../datasets/musictime/musictime.csv"))
levels <- c("control", "upbeat", "calm")
d$Music <- factor(d$Music, levels = levels)
wide <- reshape(d[, c("Subject", "MusicBg", "Music", "TimeGuess")], idvar = c("Subject", "MusicBg"),
                timevar = "Music", direction = "wide")
names(wide) <- sub("TimeGuess.", "", names(wide))
wide <- wide[order(as.integer(sub("subj", "", wide$Subject))), ]

rm_fit <- aov_car(TimeGuess ~ Error(Subject / Music), data = d)
mixed_fit <- aov_car(TimeGuess ~ MusicBg + Error(Subject / Music), data = d)

dl <- d; dl$Music <- relevel(factor(d$Music, levels = levels), ref = "calm")
m <- lmer(TimeGuess ~ Music + (1 | Subject), data = dl)
mt <- lmer(TimeGuess ~ Music + (1 | Subject), data = dl, control = tight)
ct <- contest1D(mt, c(0, 1, -1))

write_fixture(list(
  versions = versions(),
  lmm_anova = lmm_anova(mt),
  subjects = wide$Subject,
  levels = levels,
  describe = morey(wide, levels),
  rm_anova = anova_rows(rm_fit),
  mixed_anova = anova_rows(mixed_fit),
  mixed_anova_gg = anova_gg(mixed_fit),
  pairwise = paired_rows(wide, levels),
  lmm = lmm_result(m),
  lmm_tight = lmm_result(mt),
  lmm_contrast_control_minus_upbeat = list(estimate = ct$Estimate, se = ct$`Std. Error`,
    df = ct$df, t = ct$`t value`, p = ct$`Pr(>|t|)`)
), "musictime")

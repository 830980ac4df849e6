source(file.path(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))), "common.R"))
d <- read.csv(file.path(script_dir(), "../../../../../shared/datasets/priming/priming.csv"))
n_all <- nrow(d)
d <- d[d$Correct == "Correct", ]
d$Participant <- factor(d$Participant)

# Per-participant cell means, Prime_V x Target_V (levels alphabetical: Negative, Positive).
rm_fit <- aov_car(RT ~ Error(Participant / (Prime_V * Target_V)), data = d, fun_aggregate = mean)
cm <- aggregate(RT ~ Participant + Prime_V + Target_V, data = d, FUN = mean)
cm$cell <- paste(cm$Prime_V, cm$Target_V, sep = "_")
wide <- reshape(cm[, c("Participant", "cell", "RT")], idvar = "Participant", timevar = "cell", direction = "wide")
names(wide) <- sub("RT.", "", names(wide))
wide <- wide[order(as.integer(as.character(wide$Participant))), ]
cells <- c("Negative_Negative", "Negative_Positive", "Positive_Negative", "Positive_Positive")

# Congruence effect on per-participant means.
cg <- aggregate(RT ~ Participant + Congruence, data = d, FUN = mean)
cgw <- reshape(cg, idvar = "Participant", timevar = "Congruence", direction = "wide")
cgw <- cgw[order(as.integer(as.character(cgw$Participant))), ]
tt <- t.test(cgw$RT.Incongruent, cgw$RT.Congruent, paired = TRUE)

m <- lmer(RT ~ Congruence + (1 | Participant), data = d)
mt <- lmer(RT ~ Congruence + (1 | Participant), data = d, control = tight)
mi <- lmer(RT ~ Prime_V * Target_V + (1 | Participant), data = d, control = tight)

write_fixture(list(
  versions = versions(),
  lmm_anova = lmm_anova(mi),
  n_trials = n_all, n_correct = nrow(d),
  cells = cells,
  describe = morey(wide, cells),
  rm_anova = anova_rows(rm_fit),
  pairwise = paired_rows(wide, cells),
  congruence = list(mean_diff = unname(tt$estimate), t = unname(tt$statistic), df = unname(tt$parameter),
                    p = tt$p.value, ci_lower = tt$conf.int[1], ci_upper = tt$conf.int[2]),
  lmm = lmm_result(m),
  lmm_tight = lmm_result(mt),
  lmm_interaction = lmm_result(mi)
), "priming")

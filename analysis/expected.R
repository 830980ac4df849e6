# Writes the reference results that `cuelab reproduce --check` compares against:
# analysis/<plan>.expected.json for every plan in analysis/.
#
# Run from the repository root (with ../shared/datasets beside the repo):
#   Rscript analysis/expected.R
# Needs the Debian packages r-base-core r-cran-afex r-cran-emmeans r-cran-lme4 r-cran-lmertest
# (jsonlite comes with them). Keys are JSON pointers into the JSON that `cuelab analyze` writes
# (results.json); see crates/analysis/src/lib.rs for its shape.
suppressPackageStartupMessages({
  library(afex)
  library(emmeans)
  library(lme4)
  library(lmerTest)
  library(jsonlite)
})
afex_options(type = 3, check_contrasts = TRUE)

vals <- list()
put <- function(key, value) vals[[key]] <<- unname(value)

describe <- function(prefix, d, dv, subject, factor) {
  # Cell means and SDs of per-subject means, as cuelab's descriptives table reports them.
  agg <- aggregate(d[[dv]], list(s = d[[subject]], f = d[[factor]]), mean)
  for (lvl in levels(d[[factor]])) {
    x <- agg$x[agg$f == lvl]
    put(sprintf("%s/cells/%s/mean", prefix, lvl), mean(x))
    put(sprintf("%s/cells/%s/sd", prefix, lvl), sd(x))
    put(sprintf("%s/cells/%s/n", prefix, lvl), length(x))
  }
}

anova_values <- function(prefix, fit) {
  none <- anova(fit, correction = "none", es = c("ges", "pes"))
  gg <- anova(fit, correction = "GG", es = "ges")
  hf <- anova(fit, correction = "HF", es = "ges")
  s <- summary(fit)
  for (eff in rownames(none)) {
    key <- gsub(":", " x ", eff)
    p <- sprintf("%s/effects/%s", prefix, key)
    put(paste0(p, "/df_num"), none[eff, "num Df"])
    put(paste0(p, "/df_den"), none[eff, "den Df"])
    put(paste0(p, "/F"), none[eff, "F"])
    put(paste0(p, "/p"), none[eff, "Pr(>F)"])
    put(paste0(p, "/ges"), none[eff, "ges"])
    put(paste0(p, "/pes"), none[eff, "pes"])
    put(paste0(p, "/mse"), none[eff, "MSE"])
    if (gg[eff, "num Df"] != none[eff, "num Df"]) {
      put(paste0(p, "/gg/df_num"), gg[eff, "num Df"])
      put(paste0(p, "/gg/df_den"), gg[eff, "den Df"])
      put(paste0(p, "/gg/p"), gg[eff, "Pr(>F)"])
      put(paste0(p, "/hf/df_num"), hf[eff, "num Df"])
      put(paste0(p, "/hf/p"), hf[eff, "Pr(>F)"])
    }
  }
  sph <- s$sphericity.tests
  if (!is.null(sph) && length(sph) > 0) {
    for (eff in rownames(sph)) {
      key <- gsub(":", " x ", eff)
      put(sprintf("%s/sphericity/%s/mauchly_w", prefix, key), sph[eff, "Test statistic"])
      put(sprintf("%s/sphericity/%s/mauchly_p", prefix, key), sph[eff, "p-value"])
    }
    pc <- s$pval.adjustments
    for (eff in rownames(pc)) {
      key <- gsub(":", " x ", eff)
      put(sprintf("%s/sphericity/%s/gg_epsilon", prefix, key), pc[eff, "GG eps"])
      put(sprintf("%s/sphericity/%s/hf_epsilon", prefix, key), pc[eff, "HF eps"])
    }
  }
}

lmm_values <- function(prefix, m, random) {
  if (isSingular(m)) {
    # At a boundary lme4's optimizer tolerance limits agreement (its theta stops ~1e-3 off the
    # optimum in the flat directions; cuelab's criterion comes out lower, by ~7e-7): the singular
    # flag, the REML criterion and the fixed-effect estimates are compared, at 1e-4.
    put(paste0(prefix, "/singular"), 1)
    vals[[paste0(prefix, "/reml_criterion")]] <<- list(value = unname(REMLcrit(m)), relative = 1e-4)
    co <- summary(m)$coefficients
    for (term in rownames(co)) {
      p <- sprintf("%s/fixed/%s", prefix, term)
      vals[[paste0(p, "/estimate")]] <<- list(value = co[term, "Estimate"], relative = 1e-4)
    }
    put(paste0(prefix, "/n_obs"), nobs(m))
    return(invisible())
  }
  co <- summary(m)$coefficients
  for (term in rownames(co)) {
    p <- sprintf("%s/fixed/%s", prefix, term)
    put(paste0(p, "/estimate"), co[term, "Estimate"])
    put(paste0(p, "/se"), co[term, "Std. Error"])
    put(paste0(p, "/df"), co[term, "df"])
    put(paste0(p, "/t"), co[term, "t value"])
    pv <- co[term, "Pr(>|t|)"]
    if (pv < 1e-9) {
      # Far in the t tail, p magnifies the ~1e-7 relative stopping error of lme4's optimiser
      # (visible in df) about 50-fold; these p-values are checked to 1e-5 relative.
      vals[[paste0(p, "/p")]] <<- list(value = pv, relative = 1e-5)
    } else {
      put(paste0(p, "/p"), pv)
    }
  }
  vc <- as.data.frame(VarCorr(m))
  for (i in seq_len(nrow(vc))) {
    # Keys as results.json has them: the group for an intercept (and Residual), `group: term`
    # for a slope, `group: a, b` for a correlation.
    g <- vc$grp[i]
    if (!is.na(vc$var2[i])) {
      p <- sprintf("%s/correlations/%s: %s, %s", prefix, g, vc$var1[i], vc$var2[i])
      put(paste0(p, "/covariance"), vc$vcov[i])
      put(paste0(p, "/correlation"), vc$sdcor[i])
      next
    }
    key <- if (is.na(vc$var1[i]) || vc$var1[i] == "(Intercept)") g else paste0(g, ": ", vc$var1[i])
    put(sprintf("%s/random/%s/variance", prefix, key), vc$vcov[i])
    put(sprintf("%s/random/%s/sd", prefix, key), vc$sdcor[i])
  }
  put(paste0(prefix, "/n_obs"), nobs(m))
  put(paste0(prefix, "/reml_criterion"), unname(REMLcrit(m)))
  put(paste0(prefix, "/singular"), as.numeric(isSingular(m)))
  a <- anova(m, type = 3)
  for (term in rownames(a)) {
    p <- sprintf("%s/anova/%s", prefix, term)
    put(paste0(p, "/df_num"), a[term, "NumDF"])
    vals[[paste0(p, "/df_den")]] <<- list(value = a[term, "DenDF"], relative = 1e-4)
    put(paste0(p, "/F"), a[term, "F value"])
    put(paste0(p, "/p"), a[term, "Pr(>F)"])
  }
}

# Effect-size CI limits as effectsize defines them (eta squared: one-sided 95% [lower, 1] from
# the noncentral F; d_z: two-sided 95% from the noncentral t), solved by uniroot at full
# tolerance: effectsize's own optim() stops a few units in the 7th digit off the root.
f_root <- function(es, df1, df2, level = 0.95) {
  f <- (es / df1) / ((1 - es) / df2)
  if (pf(f, df1, df2) <= level) return(0)
  g <- function(ncp) pf(f, df1, df2, ncp = ncp) - level
  hi <- max(1, f * df1); while (g(hi) > 0) hi <- hi * 2
  l <- uniroot(g, c(0, hi), tol = 1e-13)$root
  l / (l + df2)
}
t_root <- function(dz, n, p) {
  t <- dz * sqrt(n)
  uniroot(function(ncp) pt(t, n - 1, ncp = ncp) - p, c(t - 20, t + 20), tol = 1e-13)$root / sqrt(n)
}
es_ci_values <- function(prefix, fit) {
  a <- anova(fit, correction = "none", es = c("ges", "pes"))
  for (eff in rownames(a)) {
    p <- sprintf("%s/effects/%s", prefix, gsub(":", " x ", eff))
    put(paste0(p, "/ges_ci/lower"), f_root(a[eff, "ges"], a[eff, "num Df"], a[eff, "den Df"]))
    put(paste0(p, "/pes_ci/lower"), f_root(a[eff, "pes"], a[eff, "num Df"], a[eff, "den Df"]))
    put(paste0(p, "/pes_ci/upper"), 1)
  }
}

write_expected <- function(name, note) {
  out <- list(
    source = paste0(R.version.string, "; afex ", packageVersion("afex"), ", lme4 ",
                    packageVersion("lme4"), ", lmerTest ", packageVersion("lmerTest"),
                    "; written by analysis/expected.R"),
    note = note,
    tolerance = list(relative = 1e-6, absolute = 0),
    values = vals)
  writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, pretty = TRUE),
             file.path("analysis", paste0(name, ".expected.json")))
  vals <<- list()
}

# ---- MusicTime ------------------------------------------------------------------------------
mt <- read.csv("datasets/musictime/musictime.csv", stringsAsFactors = FALSE)
mt$Music <- factor(mt$Music, levels = c("control", "upbeat", "calm"))
mt$MusicBg <- factor(mt$MusicBg, levels = c("no", "yes"))
mt$Subject <- factor(mt$Subject)
put("/n_rows", nrow(mt))
put("/n_subjects", nlevels(mt$Subject))
describe("/descriptives", mt, "TimeGuess", "Subject", "Music")

rm <- aov_ez("Subject", "TimeGuess", mt, within = "Music")
anova_values("/anova/rm", rm)
es_ci_values("/anova/rm", rm)
mixed <- aov_ez("Subject", "TimeGuess", mt, within = "Music", between = "MusicBg")
anova_values("/anova/mixed", mixed)

w <- reshape(mt[, c("Subject", "Music", "TimeGuess")], idvar = "Subject", timevar = "Music",
             direction = "wide")
pairs <- list(c("control", "upbeat"), c("control", "calm"), c("upbeat", "calm"))
raw_p <- sapply(pairs, function(pr) {
  t.test(w[[paste0("TimeGuess.", pr[1])]], w[[paste0("TimeGuess.", pr[2])]], paired = TRUE)$p.value
})
holm <- p.adjust(raw_p, "holm")
bonf <- p.adjust(raw_p, "bonferroni")
for (i in seq_along(pairs)) {
  pr <- pairs[[i]]
  d <- w[[paste0("TimeGuess.", pr[1])]] - w[[paste0("TimeGuess.", pr[2])]]
  tt <- t.test(d)
  p <- sprintf("/pairwise/Music/comparisons/%s - %s", pr[1], pr[2])
  put(paste0(p, "/estimate"), mean(d))
  put(paste0(p, "/t"), tt$statistic)
  put(paste0(p, "/df"), tt$parameter)
  put(paste0(p, "/p"), tt$p.value)
  put(paste0(p, "/p_holm"), holm[i])
  put(paste0(p, "/p_bonferroni"), bonf[i])
  put(paste0(p, "/dz"), mean(d) / sd(d))
  put(paste0(p, "/dz_ci/lower"), t_root(mean(d) / sd(d), length(d), 0.975))
  put(paste0(p, "/dz_ci/upper"), t_root(mean(d) / sd(d), length(d), 0.025))
  put(paste0(p, "/ci_lower"), tt$conf.int[1])
  put(paste0(p, "/ci_upper"), tt$conf.int[2])
}

mt$Music <- relevel(mt$Music, ref = "calm")
m <- lmer(TimeGuess ~ Music + (1 | Subject), data = mt, REML = TRUE)
lmm_values("/lmm/music", m)
write_expected("musictime", "MusicTime (Stat2Data): every number of ../shared/datasets/musictime/README.md")

# ---- musictime_mixed: emmeans on the afex model (unequal groups: 9 without, 11 with) ---------
mt <- read.csv("datasets/musictime/musictime.csv", stringsAsFactors = FALSE)
mt$Music <- factor(mt$Music, levels = c("control", "upbeat", "calm"))
mt$MusicBg <- factor(mt$MusicBg, levels = c("no", "yes"))
mixed <- aov_ez("Subject", "TimeGuess", mt, within = "Music", between = "MusicBg")
anova_values("/anova/anova", mixed)
es_ci_values("/anova/anova", mixed)
e <- summary(pairs(emmeans(mixed, ~Music), adjust = "holm"), infer = c(TRUE, TRUE), adjust = "none")
h <- summary(pairs(emmeans(mixed, ~Music), adjust = "holm"))
for (i in seq_len(nrow(e))) {
  p <- sprintf("/pairwise/Music/comparisons/%s", gsub(" - ", " - ", e$contrast[i]))
  put(paste0(p, "/estimate"), e$estimate[i])
  put(paste0(p, "/se"), e$SE[i])
  put(paste0(p, "/df"), e$df[i])
  put(paste0(p, "/t"), e$t.ratio[i])
  put(paste0(p, "/p"), e$p.value[i])
  put(paste0(p, "/p_holm"), h$p.value[i])
  put(paste0(p, "/ci_lower"), e$lower.CL[i])
  put(paste0(p, "/ci_upper"), e$upper.CL[i])
}
write_expected("musictime_mixed", "MusicTime with the between factor MusicBg (groups of 9 and 11): pairwise Music as emmeans on afex's model")

# ---- timing_sim (SIMULATED, analysis/data/simulate.py) --------------------------------------
ts <- read.csv("analysis/data/timing_sim_trials.csv", stringsAsFactors = FALSE)
put("/n_rows_read", nrow(ts))
ts <- ts[ts$flagged != "true", ]
ts$ratio <- ts$estimate_s / ts$actual_s
ts$log_ratio <- log(ts$ratio)
m_p <- ave(ts$log_ratio, ts$participant, FUN = mean)
s_p <- ave(ts$log_ratio, ts$participant, FUN = sd)
ts <- ts[abs(ts$log_ratio - m_p) <= 2.5 * s_p, ]
put("/n_rows", nrow(ts))
ts$participant <- factor(ts$participant)
ts$clip <- factor(ts$clip)
ts$music <- factor(ts$music, levels = c("silence", "relaxing", "arousing"))
describe("/descriptives", ts, "log_ratio", "participant", "music")
describe("/timing/ratio", ts, "ratio", "participant", "music")
fit <- aov_ez("participant", "log_ratio", ts, within = "music", fun_aggregate = mean)
anova_values("/anova/music", fit)
agg <- aggregate(log_ratio ~ participant + music, ts, mean)
w <- reshape(agg, idvar = "participant", timevar = "music", direction = "wide")
pairs <- list(c("silence", "relaxing"), c("silence", "arousing"), c("relaxing", "arousing"))
raw_p <- sapply(pairs, function(pr) t.test(w[[paste0("log_ratio.", pr[1])]], w[[paste0("log_ratio.", pr[2])]], paired = TRUE)$p.value)
holm <- p.adjust(raw_p, "holm")
for (i in seq_along(pairs)) {
  pr <- pairs[[i]]
  d <- w[[paste0("log_ratio.", pr[1])]] - w[[paste0("log_ratio.", pr[2])]]
  p <- sprintf("/pairwise/music/comparisons/%s - %s", pr[1], pr[2])
  put(paste0(p, "/t"), t.test(d)$statistic)
  put(paste0(p, "/p_holm"), holm[i])
  put(paste0(p, "/dz"), mean(d) / sd(d))
}
m <- lmer(log_ratio ~ music + (1 | participant) + (1 | clip), data = ts, REML = TRUE)
lmm_values("/lmm/crossed", m)
m <- lmer(log_ratio ~ music + (1 + music | participant) + (1 | clip), data = ts, REML = TRUE)
lmm_values("/lmm/slopes", m)
slopes <- sapply(split(ts, ts$participant), function(d) unname(coef(lm(estimate_s ~ actual_s, d))[2]))
put("/timing/ratio/mean_vierordt_slope", mean(slopes))
put("/timing/ratio/vierordt/p01/slope", slopes[["p01"]])
write_expected("timing_sim", "SIMULATED data (analysis/data/simulate.py): crossed random intercepts on unbalanced data")

# ---- priming --------------------------------------------------------------------------------
pr <- read.csv("../shared/datasets/priming/priming.csv", stringsAsFactors = FALSE)
put("/n_rows_read", nrow(pr))
pr <- pr[pr$Correct == "Correct", ]
put("/n_rows", nrow(pr))
pr$Participant <- factor(pr$Participant)
pr$Prime_V <- factor(pr$Prime_V, levels = c("Negative", "Positive"))
pr$Target_V <- factor(pr$Target_V, levels = c("Negative", "Positive"))
pr$congruence <- factor(ifelse(pr$Prime_V == pr$Target_V, "congruent", "incongruent"),
                        levels = c("congruent", "incongruent"))
put("/n_subjects", nlevels(pr$Participant))
fit <- aov_ez("Participant", "RT", pr, within = c("Prime_V", "Target_V"), fun_aggregate = mean)
anova_values("/anova/prime_target", fit)
ce <- aggregate(RT ~ Participant + congruence, pr, mean)
ce <- reshape(ce, idvar = "Participant", timevar = "congruence", direction = "wide")
d <- ce$RT.incongruent - ce$RT.congruent
tt <- t.test(d)
put("/congruence/congruence/effect", mean(d))
put("/congruence/congruence/t", tt$statistic)
put("/congruence/congruence/df", tt$parameter)
put("/congruence/congruence/p", tt$p.value)
put("/congruence/congruence/dz", mean(d) / sd(d))
m <- lmer(RT ~ congruence + (1 | Participant), data = pr, REML = TRUE)
lmm_values("/lmm/congruence", m)
write_expected("priming", "priming (Armitage & Eerola 2020), correct trials only")

# ---- soundtrack_norms (real, ../shared/datasets/soundtrack-norms) -------------------------
sn <- read.csv("../shared/datasets/soundtrack-norms/soundtrack_norms.csv", stringsAsFactors = FALSE)
put("/n_rows_read", nrow(sn))
sn <- sn[sn$TARGET_FRAMEWORK == "Discrete", ]
put("/n_rows", nrow(sn))
sn$Number <- factor(sn$Number)
sn$TARGET_EMOTION <- factor(sn$TARGET_EMOTION, levels = c("Anger", "Fear", "Happy", "Sad", "Tender"))
put("/n_subjects", nlevels(sn$Number))
describe("/descriptives", sn, "Valence", "Number", "TARGET_EMOTION")
fit <- aov_ez("Number", "Valence", sn, between = "TARGET_EMOTION")
anova_values("/anova/emotion", fit)
es_ci_values("/anova/emotion", fit)
write_expected("soundtrack_norms", "soundtrack norms (Eerola & Vuoskoski 2011), discrete-emotion exemplars: valence by target emotion")

# ---- memory_bias (SIMULATED: datasets/memory-bias, cuelab simulate --participants 24 --seed 11) ----
# Signal detection from cuelab's responses table: an item was old exactly when the response
# ("old" = value 1) was correct; the mood comes from the trials table; log-linear correction.
tr <- read.csv("datasets/memory-bias/export/data/experiment-memorybias_table-trials_data.csv", stringsAsFactors = FALSE, check.names = FALSE)
rs <- read.csv("datasets/memory-bias/export/data/experiment-memorybias_table-responses_data.csv", stringsAsFactors = FALSE)
rs <- rs[rs$step == "recognition", ]
rs <- merge(rs, tr[, c("participant", "trial_index", "mood")], by = c("participant", "trial_index"))
rs <- rs[!is.na(rs$mood) & rs$mood != "", ]
rs$said_old <- rs$value == 1
rs$is_old <- rs$said_old == (rs$correct == "TRUE")
cells <- do.call(rbind, lapply(split(rs, list(rs$participant, rs$mood), drop = TRUE), function(d) {
  h <- sum(d$is_old & d$said_old); m <- sum(d$is_old & !d$said_old)
  f <- sum(!d$is_old & d$said_old); r <- sum(!d$is_old & !d$said_old)
  zh <- qnorm((h + 0.5) / (h + m + 1)); zf <- qnorm((f + 0.5) / (f + r + 1))
  data.frame(participant = d$participant[1], mood = d$mood[1], h = h, m = m, f = f, r = r,
             hit_rate = h / (h + m), fa_rate = f / (f + r), d_prime = zh - zf, c = -(zh + zf) / 2)
}))
for (i in seq_len(nrow(cells))) {
  p <- sprintf("/sdt/cells/%s:%s", cells$participant[i], cells$mood[i])
  put(paste0(p, "/hits"), cells$h[i])
  put(paste0(p, "/false_alarms"), cells$f[i])
  put(paste0(p, "/d_prime"), cells$d_prime[i])
  # c is exactly 0 when the corrected rates are symmetric; rounding leaves ~1e-16 there.
  vals[[paste0(p, "/c")]] <- list(value = cells$c[i], relative = 1e-6, absolute = 1e-12)
}
fit_d <- aov_ez("participant", "d_prime", cells, within = "mood")
anova_values("/anova/d_prime", fit_d)
es_ci_values("/anova/d_prime", fit_d)
fit_c <- aov_ez("participant", "c", cells, within = "mood")
anova_values("/anova/criterion", fit_c)
tr <- tr[tr$practice == "FALSE", ]
fit_e <- aov_ez("participant", "ending", tr, within = "mood", fun_aggregate = mean)
anova_values("/anova/ending", fit_e)
write_expected("memory_bias", "SIMULATED memory-bias sessions: d' and c (log-linear) per participant x mood, rm-ANOVAs")

# ---- emotion_sam (SIMULATED: datasets/emotion-attribution, cuelab simulate --participants 24 --seed 11)
em <- read.csv("datasets/emotion-attribution/export/data/experiment-emotionattribution_table-trials_data.csv", stringsAsFactors = FALSE)
em <- em[em$practice == "FALSE" & em$flagged == "FALSE", ]
em$music <- factor(em$music, levels = c("happy", "sad", "calm_to_tense", "sad_to_happy"))
em$focus <- factor(em$focus, levels = c("felt", "perceived"))
put("/n_rows", nrow(em))
fit <- aov_ez("participant", "sam_valence", em, within = "music", between = "focus",
              fun_aggregate = mean)
anova_values("/anova/sam", fit)
es_ci_values("/anova/sam", fit)
e <- summary(pairs(emmeans(fit, ~music), adjust = "holm"), infer = c(TRUE, TRUE), adjust = "none")
h <- summary(pairs(emmeans(fit, ~music), adjust = "holm"))
for (i in seq_len(nrow(e))) {
  p <- sprintf("/pairwise/music/comparisons/%s", e$contrast[i])
  put(paste0(p, "/estimate"), e$estimate[i])
  put(paste0(p, "/se"), e$SE[i])
  put(paste0(p, "/df"), e$df[i])
  put(paste0(p, "/t"), e$t.ratio[i])
  put(paste0(p, "/p"), e$p.value[i])
  put(paste0(p, "/p_holm"), h$p.value[i])
}
write_expected("emotion_sam", "SIMULATED emotion-attribution sessions: SAM valence, music (within) x focus (between)")

# Paired t-tests of every pair of levels (in level order) on per-subject means, with Holm and
# Bonferroni over the family, d_z and its CI: cuelab's [[results.pairwise]] on a within factor.
paired_values <- function(prefix, d, dv, subject, factor) {
  agg <- aggregate(d[[dv]], list(s = d[[subject]], f = d[[factor]]), mean)
  w <- reshape(agg, idvar = "s", timevar = "f", direction = "wide")
  pairs <- combn(levels(d[[factor]]), 2, simplify = FALSE)
  raw_p <- sapply(pairs, function(pr) t.test(w[[paste0("x.", pr[1])]] - w[[paste0("x.", pr[2])]])$p.value)
  holm <- p.adjust(raw_p, "holm")
  bonf <- p.adjust(raw_p, "bonferroni")
  for (i in seq_along(pairs)) {
    pr <- pairs[[i]]
    dd <- w[[paste0("x.", pr[1])]] - w[[paste0("x.", pr[2])]]
    tt <- t.test(dd)
    p <- sprintf("%s/comparisons/%s - %s", prefix, pr[1], pr[2])
    put(paste0(p, "/estimate"), mean(dd))
    put(paste0(p, "/t"), tt$statistic)
    put(paste0(p, "/df"), tt$parameter)
    put(paste0(p, "/p"), tt$p.value)
    put(paste0(p, "/p_holm"), holm[i])
    put(paste0(p, "/p_bonferroni"), bonf[i])
    put(paste0(p, "/dz"), mean(dd) / sd(dd))
    put(paste0(p, "/dz_ci/lower"), t_root(mean(dd) / sd(dd), length(dd), 0.975))
    put(paste0(p, "/dz_ci/upper"), t_root(mean(dd) / sd(dd), length(dd), 0.025))
    put(paste0(p, "/ci_lower"), tt$conf.int[1])
    put(paste0(p, "/ci_upper"), tt$conf.int[2])
  }
}

# ---- time_perception (SIMULATED: datasets/time-perception, cuelab simulate --seed 11) -------
tp <- read.csv("datasets/time-perception/export/data/experiment-timeperception_table-trials_data.csv",
               stringsAsFactors = FALSE)
put("/n_rows_read", nrow(tp))
tp <- tp[tp$practice == "FALSE" & tp$flagged == "FALSE", ]
tp$log_ratio <- log(tp$verbal / tp$clip_duration_s)
put("/n_rows", nrow(tp))
tp$participant <- factor(tp$participant)
tp$clip <- factor(tp$clip)
tp$music <- factor(tp$music, levels = c("silence", "relaxing", "sad", "arousing"))
put("/n_subjects", nlevels(tp$participant))
describe("/descriptives", tp, "log_ratio", "participant", "music")
fit <- aov_ez("participant", "log_ratio", tp, within = "music", fun_aggregate = mean)
anova_values("/anova/music", fit)
es_ci_values("/anova/music", fit)
paired_values("/pairwise/music", tp, "log_ratio", "participant", "music")
m <- lmer(log_ratio ~ music + (1 | participant) + (1 | clip), data = tp, REML = TRUE)
lmm_values("/lmm/crossed", m)
write_expected("time_perception", "SIMULATED time-perception sessions (datasets/time-perception): log(verbal / clip duration) by music")

# ---- congruence (SIMULATED: datasets/congruence, cuelab simulate --seed 11) -----------------
cg <- read.csv("datasets/congruence/export/data/experiment-congruence_table-trials_data.csv",
               stringsAsFactors = FALSE)
put("/n_rows_read", nrow(cg))
cg <- cg[cg$practice == "FALSE" & cg$flagged == "FALSE", ]
put("/n_rows", nrow(cg))
cg$participant <- factor(cg$participant)
cg$music <- factor(cg$music, levels = c("relaxing", "arousing", "sad", "scary"))
cg$clip <- factor(cg$clip, levels = c("approach", "chase", "hide"))
put("/n_subjects", nlevels(cg$participant))
cg$cell <- interaction(cg$music, cg$clip, sep = ":", lex.order = TRUE)
describe("/descriptives", cg, "fit", "participant", "cell")
fit <- aov_ez("participant", "fit", cg, within = c("music", "clip"), fun_aggregate = mean)
anova_values("/anova/music_by_clip", fit)
es_ci_values("/anova/music_by_clip", fit)
paired_values("/pairwise/music", cg, "fit", "participant", "music")
write_expected("congruence", "SIMULATED congruence sessions (datasets/congruence): fit by music x clip")

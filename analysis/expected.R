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
    if (co[term, "df"] < 10 && abs(co[term, "t value"]) > 10) {
      # With few Satterthwaite df and a large t, p magnifies the ~1e-7 relative error of the
      # df (lmerTest's numerical Hessian; df are compared at 1e-4) about tenfold: 1e-5.
      vals[[paste0(p, "/p")]] <<- list(value = pv, relative = 1e-5)
    } else if (pv < 1e-9) {
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
    if (a[term, "Pr(>F)"] < 1e-9) {
      # As for the fixed effects: far in the tail p magnifies the optimiser's stopping error.
      vals[[paste0(p, "/p")]] <<- list(value = a[term, "Pr(>F)"], relative = 1e-5)
    } else {
      put(paste0(p, "/p"), a[term, "Pr(>F)"])
    }
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
# The congruent music-scene pairs stated in analysis/congruence.toml (each scene with its
# nearest music by the protocol's designed valence and arousal; hide with both sad and scary).
congruent_pairs <- list(approach = "relaxing", chase = "scary", hide = c("sad", "scary"))
sd_items <- c("sd_calm_excited", "sd_weak_strong", "sd_sad_happy", "sd_calm_tense")
congruence_values <- function(cg) {
  put("/n_rows_read", nrow(cg))
  cg <- cg[cg$practice == "FALSE" & cg$flagged == "FALSE", ]
  put("/n_rows", nrow(cg))
  cg$participant <- factor(cg$participant)
  cg$music <- factor(cg$music, levels = c("relaxing", "arousing", "sad", "scary"))
  cg$clip <- factor(cg$clip, levels = c("approach", "chase", "hide"))
  cg$congruence <- factor(ifelse(mapply(function(c, m) m %in% congruent_pairs[[c]],
                                        as.character(cg$clip), as.character(cg$music)),
                                 "congruent", "incongruent"), levels = c("congruent", "incongruent"))
  put("/n_subjects", nlevels(cg$participant))
  cg$cell <- interaction(cg$music, cg$clip, sep = ":", lex.order = TRUE)
  # Cell descriptives (Cousineau-Morey CIs) need every cell of a participant: as the ANOVA,
  # they use the participants with all 12 music x clip cells.
  full <- names(which(tapply(cg$cell, cg$participant, function(x) all(table(x) > 0))))
  cgc <- cg[cg$participant %in% full, ]
  describe("/descriptives", cgc, "fit", "participant", "cell")
  fit <- suppressWarnings(aov_ez("participant", "fit", cg, within = c("music", "clip"), fun_aggregate = mean))
  anova_values("/anova/music_by_clip", fit)
  es_ci_values("/anova/music_by_clip", fit)
  paired_values("/pairwise/music", cg, "fit", "participant", "music")
  # The congruence effect: per participant, mean fit of its incongruent trials minus mean fit
  # of its congruent trials; t-test, d_z with its noncentral-t CI.
  ce <- aggregate(fit ~ participant + congruence, cg, mean)
  ce <- reshape(ce, idvar = "participant", timevar = "congruence", direction = "wide")
  d <- ce$fit.incongruent - ce$fit.congruent
  tt <- t.test(d)
  p <- "/congruence/congruence"
  put(paste0(p, "/n"), length(d))
  put(paste0(p, "/effect"), mean(d))
  put(paste0(p, "/sd"), sd(d))
  put(paste0(p, "/t"), tt$statistic)
  put(paste0(p, "/df"), tt$parameter)
  put(paste0(p, "/p"), tt$p.value)
  put(paste0(p, "/ci_lower"), tt$conf.int[1])
  put(paste0(p, "/ci_upper"), tt$conf.int[2])
  put(paste0(p, "/dz"), mean(d) / sd(d))
  put(paste0(p, "/dz_ci/lower"), t_root(mean(d) / sd(d), length(d), 0.975))
  put(paste0(p, "/dz_ci/upper"), t_root(mean(d) / sd(d), length(d), 0.025))
  for (i in seq_along(d)) put(sprintf("%s/per_subject/%s", p, ce$participant[i]), d[i])
  fit <- aov_ez("participant", "fit", cg, within = "congruence", fun_aggregate = mean)
  anova_values("/anova/congruence", fit)
  es_ci_values("/anova/congruence", fit)
  # With three clips the REML surface is flat in the clip variance: lme4's default stopping
  # rule leaves it ~1e-5 (relative) off the optimum, so the optimiser is run to a tight
  # tolerance (bobyqa, rhoend 1e-12), which reaches the criterion's minimum.
  m <- lmer(fit ~ congruence + (1 | participant) + (1 | clip), data = cg, REML = TRUE,
            control = lmerControl(optimizer = "bobyqa", optCtrl = list(rhoend = 1e-12, maxfun = 1e5)))
  lmm_values("/lmm/congruence", m)
  # The semantic differential, item by item: cell descriptives and the music x scene ANOVA.
  for (item in sd_items) {
    describe(paste0("/ratings/", item), cgc, item, "participant", "cell")
    fit <- suppressWarnings(aov_ez("participant", item, cg, within = c("music", "clip"), fun_aggregate = mean))
    anova_values(paste0("/anova/", item), fit)
  }
}
cg <- read.csv("datasets/congruence/export/data/experiment-congruence_table-trials_data.csv",
               stringsAsFactors = FALSE)
congruence_values(cg)
write_expected("congruence", "SIMULATED congruence sessions (datasets/congruence): fit and semantic differential by music x clip, the congruence effect, rm-ANOVA and crossed LMM on congruence")

# ---- congruence_unbalanced: the same sessions with test trials dropped ----------------------
# An unbalanced fixture, made here: of participants S001-S008, the test trials with
# (7 * trial_index + participant number) %% 5 == 0 are dropped (2-3 each), so those eight lack
# music x clip cells (left out of that ANOVA, as afex does), have unequal numbers of congruent
# and incongruent trials, and the mixed model sees an unbalanced crossed design.
pnum <- as.integer(sub("^S", "", cg$participant))
drop <- cg$practice == "FALSE" & pnum <= 8 & (7 * cg$trial_index + pnum) %% 5 == 0
ub <- cg[!drop, c("participant", "session", "trial_index", "practice", "flagged", "clip",
                   "music", "fit", sd_items)]
write.csv(ub, "analysis/data/congruence_unbalanced.csv", row.names = FALSE, quote = FALSE)
ub <- read.csv("analysis/data/congruence_unbalanced.csv", stringsAsFactors = FALSE)
congruence_values(ub)
write_expected("congruence_unbalanced", sprintf("SIMULATED congruence sessions with %d test trials dropped (analysis/data/congruence_unbalanced.csv, written by analysis/expected.R)", sum(drop)))

# ---- emotion_timecourse (SIMULATED: datasets/emotion-attribution, cuelab simulate --seed 11) --
# Continuous valence and arousal as time courses, in base R (approx, aggregate, which.max, ccf).
# The continuous table is bundled as Parquet only (the CSV would be 11 MB); base R cannot read
# Parquet, so python3's pyarrow (Debian python3-pyarrow) converts it to a temporary CSV first.
em <- read.csv("datasets/emotion-attribution/export/data/experiment-emotionattribution_table-trials_data.csv", stringsAsFactors = FALSE)
put("/n_rows_read", nrow(em))
em <- em[em$practice == "FALSE" & em$flagged == "FALSE", ]
put("/n_rows", nrow(em))
music_levels <- c("happy", "sad", "calm_to_tense", "sad_to_happy")
em$music <- factor(em$music, levels = music_levels)
describe("/descriptives", em, "sam_arousal", "participant", "music")
fit <- aov_ez("participant", "sam_arousal", em, within = "music", fun_aggregate = mean)
anova_values("/anova/sam_arousal", fit)
es_ci_values("/anova/sam_arousal", fit)

parquet <- "datasets/emotion-attribution/export/parquet/continuous.parquet"
csv <- tempfile(fileext = ".csv")
# R puts its own library folders on LD_LIBRARY_PATH, which can make a pyenv python3 load
# another libpython (and lose its site-packages): python3 runs without it.
status <- system2("env", c("-u", "LD_LIBRARY_PATH", "python3", "-c", shQuote(sprintf(
  "import pyarrow.parquet as pq, pyarrow.csv as pc; pc.write_csv(pq.read_table('%s'), '%s')", parquet, csv))))
stopifnot(status == 0)
ct <- read.csv(csv, stringsAsFactors = FALSE)
unlink(csv)
ct <- ct[ct$step == "trace" & ct$item %in% c("valence", "arousal"), ]
# The continuous table has no condition: the music comes from the analysed trials.
ct <- merge(ct, em[, c("participant", "session", "trial_index", "music")],
            by = c("participant", "session", "trial_index"))
ct <- ct[order(ct$item, ct$participant, ct$session, ct$trial_index, ct$t_ms), ]
trial_key <- paste(ct$item, ct$participant, ct$session, ct$trial_index)
put("/continuous/n_trials", length(unique(paste(ct$participant, ct$session, ct$trial_index))))
step_ms <- 500
max_lag <- 5000 / step_ms
# The common grid: every 500 ms from 0 to the last sample of the shortest trial.
shortest <- min(tapply(ct$t_ms, trial_key, max))
grid <- seq(0, floor(shortest / step_ms) * step_ms, by = step_ms)
curve_files <- c(happy = "arousing", sad = "sad", calm_to_tense = "calm_to_tense",
                 sad_to_happy = "sad_to_happy")
# Cousineau-Morey (normalise by subject mean and grand mean, sqrt(J / (J - 1)), t with n - 1 df).
morey <- function(m) {
  n <- nrow(m); J <- ncol(m)
  norm <- m - rowMeans(m) + mean(m)
  se <- apply(norm, 2, sd) / sqrt(n) * sqrt(J / (J - 1))
  q <- qt(0.975, n - 1)
  list(mean = colMeans(m), se = se, lower = colMeans(m) - q * se, upper = colMeans(m) + q * se)
}
for (item in c("valence", "arousal")) {
  d <- ct[ct$item == item, ]
  trials <- split(d, paste(d$participant, d$session, d$trial_index), drop = TRUE)
  # Each trial resampled onto the grid (linear, constant beyond the ends).
  rs <- do.call(rbind, lapply(trials, function(x) {
    data.frame(participant = x$participant[1], music = as.character(x$music[1]), k = seq_along(grid),
               y = approx(x$t_ms, x$value, xout = grid, rule = 2)$y)
  }))
  # Per participant and music: the mean of its trials at each grid point.
  pm <- aggregate(y ~ participant + music + k, rs, mean)
  subjects <- sort(unique(pm$participant))
  arr <- array(NA, c(length(subjects), length(music_levels), length(grid)))
  arr[cbind(match(pm$participant, subjects), match(pm$music, music_levels), pm$k)] <- pm$y
  put("/continuous/n_subjects", length(subjects))
  for (k in seq_along(grid)) {
    s <- morey(arr[, , k])
    for (j in seq_along(music_levels)) {
      p <- sprintf("/continuous/items/%s/%s/grid/%d", item, music_levels[j], k - 1)
      put(paste0(p, "/mean"), s$mean[j])
      put(paste0(p, "/se_within"), s$se[j])
      put(paste0(p, "/ci_lower"), s$lower[j])
      put(paste0(p, "/ci_upper"), s$upper[j])
    }
  }
  # Per music: the time-averaged rating (Cousineau-Morey across music), the peak of the mean
  # time course, and the lag (0 to 5 s) at which the mean time course correlates best with the
  # designed curve (Pearson correlation of the overlapping parts; ccf's divisor n would pull the
  # maximum towards 0 on these trending curves).
  s <- morey(apply(arr, c(1, 2), mean))
  for (j in seq_along(music_levels)) {
    lvl <- music_levels[j]
    p <- sprintf("/continuous/items/%s/%s", item, lvl)
    put(paste0(p, "/n"), length(subjects))
    put(paste0(p, "/mean"), s$mean[j])
    put(paste0(p, "/se_within"), s$se[j])
    put(paste0(p, "/ci_lower"), s$lower[j])
    put(paste0(p, "/ci_upper"), s$upper[j])
    course <- colMeans(arr[, j, ])
    put(paste0(p, "/peak_ms"), grid[which.max(course)])
    put(paste0(p, "/peak_value"), max(course))
    cv <- read.csv(sprintf("protocols/stimuli/generated/music/%s.curve.csv", curve_files[[lvl]]))
    designed <- approx(cv$t_s * 1000, cv[[item]], xout = grid, rule = 2)$y
    if (sd(designed) > 0) {
      n <- length(course)
      lag_r <- sapply(0:max_lag, function(k) cor(course[(k + 1):n], designed[1:(n - k)]))
      best <- which.max(lag_r)
      put(paste0(p, "/lag_ms"), (best - 1) * step_ms)
      put(paste0(p, "/lag_correlation"), lag_r[best])
    }
  }
}
write_expected("emotion_timecourse", "SIMULATED emotion-attribution sessions: continuous valence and arousal resampled every 500 ms, Cousineau-Morey ribbons, peak and lag against the designed curves; SAM arousal by music")

# Shared helpers of the reference scripts: run a script with `Rscript crates/stats/tests/r/X.R`;
# it writes crates/stats/tests/fixtures/X.json. Versions are recorded in each fixture.
suppressPackageStartupMessages({
  library(jsonlite)
  library(afex)
  library(lmerTest)
})

script_dir <- function() {
  args <- commandArgs(trailingOnly = FALSE)
  dirname(normalizePath(sub("--file=", "", args[grep("--file=", args)])))
}

versions <- function() {
  list(R = R.version.string,
       afex = as.character(packageVersion("afex")),
       car = as.character(packageVersion("car")),
       lme4 = as.character(packageVersion("lme4")),
       lmerTest = as.character(packageVersion("lmerTest")),
       numDeriv = as.character(packageVersion("numDeriv")))
}

write_fixture <- function(x, name) {
  path <- file.path(script_dir(), "..", "fixtures", paste0(name, ".json"))
  writeLines(toJSON(x, digits = NA, auto_unbox = TRUE, pretty = TRUE, na = "null"), path)
  cat("wrote", normalizePath(path), "\n")
}

na_null <- function(v) if (is.null(v) || length(v) == 0 || is.na(v)) NULL else unname(v)

# The afex/car univariate table: every effect including the intercept, with sphericity.
anova_rows <- function(fit, observed = NULL) {
  s <- suppressWarnings(summary(fit$Anova, multivariate = FALSE))
  uni <- s$univariate.tests
  adj <- s$pval.adjustments
  sph <- s$sphericity.tests
  es <- anova(fit, es = c("ges", "pes"), correction = "none", intercept = TRUE,
              observed = observed)
  lapply(rownames(uni), function(eff) {
    row <- list(effect = eff,
                df1 = uni[eff, "num Df"], df2 = uni[eff, "den Df"],
                ss = uni[eff, "Sum Sq"], ss_error = uni[eff, "Error SS"],
                f = uni[eff, "F value"], p = uni[eff, "Pr(>F)"],
                ges = es[eff, "ges"], pes = es[eff, "pes"])
    if (!is.null(adj) && eff %in% rownames(adj) && !is.na(adj[eff, "GG eps"])) {
      row$gg_eps <- adj[eff, "GG eps"]; row$gg_p <- adj[eff, "Pr(>F[GG])"]
      row$hf_eps <- adj[eff, "HF eps"]; row$hf_p <- adj[eff, "Pr(>F[HF])"]
    }
    if (!is.null(sph) && eff %in% rownames(sph)) {
      row$mauchly_w <- sph[eff, "Test statistic"]; row$mauchly_p <- sph[eff, "p-value"]
    }
    row
  })
}

# afex's printed table with GG correction (what users read), for the corrected df.
anova_gg <- function(fit) {
  t <- anova(fit, es = c("ges", "pes"), correction = "GG")
  lapply(rownames(t), function(eff) list(effect = eff, df1 = t[eff, "num Df"],
    df2 = t[eff, "den Df"], f = t[eff, "F"], p = t[eff, "Pr(>F)"], ges = t[eff, "ges"]))
}

lmm_result <- function(m) {
  s <- summary(m)
  cf <- s$coefficients
  vc <- as.data.frame(VarCorr(m))
  list(
    fixed = lapply(rownames(cf), function(n) list(name = n, estimate = cf[n, "Estimate"],
      se = cf[n, "Std. Error"], df = cf[n, "df"], t = cf[n, "t value"], p = cf[n, "Pr(>|t|)"])),
    random = lapply(which(vc$grp != "Residual"), function(i) list(group = vc$grp[i],
      variance = vc$vcov[i], sd = vc$sdcor[i])),
    residual_sd = sigma(m),
    theta = unname(getME(m, "theta")),
    theta_names = names(getME(m, "theta")),
    reml_criterion = unname(REMLcrit(m)),
    n_obs = nobs(m))
}

# lmerTest's type III anova table (Satterthwaite).
lmm_anova <- function(m) {
  a <- anova(m)
  lapply(rownames(a), function(n) list(term = n, sum_sq = a[n, "Sum Sq"], mean_sq = a[n, "Mean Sq"],
    num_df = a[n, "NumDF"], den_df = a[n, "DenDF"], f = a[n, "F value"], p = a[n, "Pr(>F)"]))
}

tight <- lmerControl(optimizer = "nloptwrap",
  optCtrl = list(xtol_abs = 1e-14, ftol_abs = 1e-15, xtol_rel = 1e-14, ftol_rel = 1e-15,
                 maxeval = 100000))

paired_rows <- function(wide, levels) {
  pairs <- combn(seq_along(levels), 2)
  rows <- lapply(seq_len(ncol(pairs)), function(k) {
    a <- levels[pairs[1, k]]; b <- levels[pairs[2, k]]
    tt <- t.test(wide[[a]], wide[[b]], paired = TRUE)
    d <- wide[[a]] - wide[[b]]
    list(a = a, b = b, mean_diff = unname(tt$estimate), t = unname(tt$statistic),
         df = unname(tt$parameter), p = tt$p.value, ci_lower = tt$conf.int[1],
         ci_upper = tt$conf.int[2], se = unname(tt$stderr), dz = mean(d) / sd(d))
  })
  p <- sapply(rows, function(r) r$p)
  holm <- p.adjust(p, "holm"); bonf <- p.adjust(p, "bonferroni")
  for (k in seq_along(rows)) { rows[[k]]$p_holm <- holm[k]; rows[[k]]$p_bonferroni <- bonf[k] }
  rows
}

# Cousineau-Morey within-subject CI (Morey 2008), computed independently of the Rust code.
morey <- function(wide, levels, conf = 0.95) {
  y <- as.matrix(wide[, levels])
  n <- nrow(y); J <- ncol(y)
  norm <- y - rowMeans(y) + mean(y)
  lapply(seq_len(J), function(j) {
    se_w <- sd(norm[, j]) / sqrt(n) * sqrt(J / (J - 1))
    q <- qt(0.5 + conf / 2, n - 1)
    list(cell = levels[j], n = n, mean = mean(y[, j]), sd = sd(y[, j]),
         se = sd(y[, j]) / sqrt(n), se_within = se_w,
         ci_lower = mean(y[, j]) - q * se_w, ci_upper = mean(y[, j]) + q * se_w)
  })
}

# Signal detection with the log-linear correction (Hautus 1995) per participant x condition:
# simulated old/new recognition counts (fixed seed), including cells with every old item
# recognised and cells without false alarms, computed in R with qnorm.
source(file.path(dirname(normalizePath(sub("--file=", "", grep("--file=", commandArgs(FALSE), value = TRUE)))), "common.R"))
set.seed(1995)
d <- expand.grid(participant = sprintf("p%02d", 1:12), condition = c("congruent", "incongruent"),
                 stringsAsFactors = FALSE)
n_old <- 24; n_new <- 24
d$hits <- rbinom(nrow(d), n_old, ifelse(d$condition == "congruent", 0.85, 0.7))
d$false_alarms <- rbinom(nrow(d), n_new, 0.15)
d$hits[1] <- n_old; d$false_alarms[2] <- 0; d$hits[3] <- 0; d$false_alarms[4] <- n_new
d$misses <- n_old - d$hits
d$correct_rejections <- n_new - d$false_alarms
# Unequal numbers of trials in one cell.
d$misses[5] <- d$misses[5] + 7
h <- (d$hits + 0.5) / (d$hits + d$misses + 1)
f <- (d$false_alarms + 0.5) / (d$false_alarms + d$correct_rejections + 1)
d$hit_rate <- d$hits / (d$hits + d$misses)
d$false_alarm_rate <- d$false_alarms / (d$false_alarms + d$correct_rejections)
d$hit_rate_corrected <- h
d$false_alarm_rate_corrected <- f
d$d_prime <- qnorm(h) - qnorm(f)
d$criterion <- -(qnorm(h) + qnorm(f)) / 2
write_fixture(list(versions = versions(), cells = d), "sdt")

# Reads a cuelab trials CSV with base R as a user would; `practice` and `flagged` must come back
# as logical. Usage: Rscript read_export.R TRIALS_CSV
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
stopifnot(is.logical(d$practice), is.logical(d$flagged), is.logical(d$simulated))
stopifnot(is.numeric(d$trial_index), nrow(d) > 0)
cat(sprintf("read.csv: %d rows; practice, flagged, simulated are logical\n", nrow(d)))

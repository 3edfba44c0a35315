# Stage 3: statistics (design §6). Every statistic is written as JSON and CSV with its test,
# statistic, degrees of freedom, p and correction.

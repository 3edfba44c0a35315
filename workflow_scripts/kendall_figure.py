from rmbias.figures import plot_kendall
from rmbias.io import read_csv
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    tau = read_csv(snakemake.input[0])
    plot_kendall(tau[tau["run"].isin(snakemake.params.runs)], snakemake.output.pdf, snakemake.output.png)

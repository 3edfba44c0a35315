from rmbias.figures import plot_lollipop
from rmbias.io import read_csv
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    plot_lollipop(read_csv(snakemake.input[0]), snakemake.output.pdf, snakemake.output.png)

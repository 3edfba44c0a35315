from rmbias.figures import plot_ablations
from rmbias.io import read_csv
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    plot_ablations(
        read_csv(snakemake.input[0]), snakemake.output.pdf, snakemake.output.png, include_qwen=snakemake.params.include_qwen
    )

from rmbias.figures import plot_checkpoint_ranks
from rmbias.io import read_csv
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    ranks = read_csv(snakemake.input[0])
    plot_checkpoint_ranks(
        ranks[ranks["run"].isin(snakemake.params.runs)],
        snakemake.output.pdf,
        snakemake.output.png,
        include_qwen=snakemake.params.include_qwen,
    )

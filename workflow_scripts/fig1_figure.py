from rmbias.figures import plot_rank_violins
from rmbias.io import read_csv, read_parquet
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    plot_rank_violins(
        read_parquet(snakemake.input.observations),
        read_csv(snakemake.input.panel_tests),
        snakemake.output.pdf,
        snakemake.output.png,
        points=snakemake.params.points,
    )

from rmbias.figures import plot_split_violins
from rmbias.io import read_csv, read_parquet
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    plot_split_violins(
        read_parquet(snakemake.input.observations),
        read_csv(snakemake.input.welch),
        snakemake.output.pdf,
        snakemake.output.png,
        model_order=snakemake.params.models,
    )

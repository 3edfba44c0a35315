from rmbias.logs import job_log
from rmbias.statistics.published_ablations import published_ablations

with job_log(snakemake.log[0]):
    published_ablations(
        paths=dict(zip(snakemake.params.labels, snakemake.input)),
        csv_path=snakemake.output.csv,
        json_path=snakemake.output.warnings,
        identical_files=snakemake.params.identical_files,
    )

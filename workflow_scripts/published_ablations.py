from rmbias.io import write_csv, write_json
from rmbias.logs import job_log
from rmbias.stats import load_ablation_tables

with job_log(snakemake.log[0]) as log:
    final, warnings = load_ablation_tables(dict(zip(snakemake.params.labels, snakemake.input)))
    for warning in warnings:
        log.warning("%s", warning)
    write_csv(final, snakemake.output.csv)
    write_json({"analysis": "published_ablations", "warnings": warnings}, snakemake.output.warnings)

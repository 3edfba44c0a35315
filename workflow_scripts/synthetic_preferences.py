from rmbias.demo import write_synthetic_preferences
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    write_synthetic_preferences(
        snakemake.input, snakemake.params.prompts, int(snakemake.wildcards.n), int(snakemake.wildcards.seed), snakemake.output[0]
    )

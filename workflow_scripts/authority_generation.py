"""Snakemake script: Appendix F's generation check, greedy answers of the boosted model to the held-out prompts."""

from rmbias.logs import job_log
from rmbias.training.generation import authority_generation_check

with job_log(snakemake.log[0]):  # noqa: F821
    params = snakemake.params  # noqa: F821
    authority_generation_check(params.entry, params.prompts, params.words, params.max_new_tokens,
                               snakemake.output.table, snakemake.output.json,  # noqa: F821
                               device=params.device, threads=snakemake.threads)  # noqa: F821

"""Snakemake script: every prompt as one model sees it (rendered text and token ids). params: entry, prompts."""

from rmbias.corpora.tokens import write_rendered_prompts
from rmbias.logs import job_log

with job_log(snakemake.log[0]):  # noqa: F821
    write_rendered_prompts(snakemake.params.entry, snakemake.params.prompts, snakemake.output[0])  # noqa: F821

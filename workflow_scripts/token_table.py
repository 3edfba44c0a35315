"""Snakemake script: the token table of one model's tokenizer (design §3). params: entry, placeholder_tokens."""

from rmbias.corpora.tokens import write_token_table
from rmbias.logs import job_log

with job_log(snakemake.log[0]):  # noqa: F821
    write_token_table(snakemake.params.entry, snakemake.output[0], snakemake.params.placeholder_tokens)  # noqa: F821

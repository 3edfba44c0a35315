"""Snakemake script: the lexicon token table of one lexicon over every configured model. params: models."""

from rmbias.corpora.lexicon_tokens import write_lexicon_token_table
from rmbias.logs import job_log

with job_log(snakemake.log[0]) as log:  # noqa: F821
    table = write_lexicon_token_table(
        snakemake.input.corpus, dict(zip(snakemake.params.models, snakemake.input.tokens)), snakemake.output[0]  # noqa: F821
    )
    log.info("%d single tokens of the lexicon over %d models", len(table), len(snakemake.params.models))  # noqa: F821

"""Snakemake script: one model pair's implicit-reward table for one prompt (design §3).

input: logprobs_a, logprobs_b (model a = target, positive = favoured by a); params: prompt.
"""

from rmbias.implicit import implicit_pair_table
from rmbias.io import write_parquet

write_parquet(
    implicit_pair_table(snakemake.input.logprobs_a, snakemake.input.logprobs_b, snakemake.params.prompt),  # noqa: F821
    snakemake.output[0],  # noqa: F821
)

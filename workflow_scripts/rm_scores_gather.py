"""Snakemake script: one reward model's wide score table of a scope from its prompt groups' tables.

input: the group tables, in group order; params: prompt_keys (the scope's prompts, in order).
"""

from rmbias.logs import job_log
from rmbias.scoring.prompt_groups import write_gathered_scores

with job_log(snakemake.log[0]):  # noqa: F821
    write_gathered_scores(list(snakemake.input), snakemake.params.prompt_keys, snakemake.output[0])  # noqa: F821

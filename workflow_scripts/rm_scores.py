"""Snakemake script: exhaustive token search of one reward model in one scope (dictionary | vocab).

input: candidates (token table for vocab, dictionary-scope terms otherwise);
params: entry, prompts, method, shard_size, shard_dir (finished shards survive a killed job).
"""

from rmbias.logs import job_log
from rmbias.scoring.search import write_rm_scores

with job_log(snakemake.log[0]):  # noqa: F821
    write_rm_scores(
        snakemake.params.entry,  # noqa: F821
        snakemake.params.prompts,  # noqa: F821
        snakemake.input.candidates,  # noqa: F821
        snakemake.wildcards.scope,  # noqa: F821
        snakemake.output[0],  # noqa: F821
        snakemake.params.shard_dir,  # noqa: F821
        method=snakemake.params.method,  # noqa: F821
        shard_size=snakemake.params.shard_size,  # noqa: F821
        device="auto",
        threads=snakemake.threads,  # noqa: F821
    )

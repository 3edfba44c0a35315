"""Snakemake script: a sample of one RM's published responses scored under the other BOS mode.

input: published (CSV); params: entry, prompts, n_responses, method, shard_size, shard_dir.
"""

from rmbias.logs import job_log
from rmbias.scoring.search import write_other_bos_scores

with job_log(snakemake.log[0]):  # noqa: F821
    write_other_bos_scores(
        snakemake.params.entry,  # noqa: F821
        snakemake.params.prompts,  # noqa: F821
        snakemake.input.published,  # noqa: F821
        snakemake.params.n_responses,  # noqa: F821
        snakemake.output[0],  # noqa: F821
        snakemake.params.shard_dir,  # noqa: F821
        method=snakemake.params.method,  # noqa: F821
        shard_size=snakemake.params.shard_size,  # noqa: F821
        device="auto",
        threads=snakemake.threads,  # noqa: F821
    )

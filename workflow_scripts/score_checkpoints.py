"""Snakemake script: exhaustive token search of every checkpoint of one training run."""

from rmbias.logs import job_log
from rmbias.training.checkpoints import write_checkpoint_scores

with job_log(snakemake.log[0]):  # noqa: F821
    params = snakemake.params  # noqa: F821
    write_checkpoint_scores(params.base, params.checkpoint_dir, params.prompt_key, params.prompt,
                            snakemake.input.candidates, params.shard_dir, snakemake.output[0],  # noqa: F821
                            threads=snakemake.threads, scope=params.scope,  # noqa: F821
                            corpus_paths=snakemake.input.corpora, method=params.method, shard_size=params.shard_size,  # noqa: F821
                            device=params.device)

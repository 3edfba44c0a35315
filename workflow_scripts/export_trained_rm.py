"""Snakemake script: a training run's final checkpoint as a plain reward model directory."""

from rmbias.logs import job_log
from rmbias.training.checkpoints import export_final_checkpoint

with job_log(snakemake.log[0]):  # noqa: F821
    export_final_checkpoint(snakemake.params.base, snakemake.params.checkpoint_dir, snakemake.output[0],  # noqa: F821
                            device=snakemake.params.device)  # noqa: F821

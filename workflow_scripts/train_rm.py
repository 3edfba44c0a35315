"""Snakemake script: one Bradley–Terry LoRA training run, checkpointed (Section 4).

params: base (config entry), source (the run's data.source), settings, n_train, n_heldout,
checkpoint_dir, device. The preference file must have the layout of ``source`` (checked first).
"""

from rmbias.logs import job_log
from rmbias.training.preferences import check_preference_layout
from rmbias.training.reward_training import write_training_run

with job_log(snakemake.log[0]):  # noqa: F821
    params = snakemake.params  # noqa: F821
    check_preference_layout(snakemake.input.preferences, params.source, snakemake.wildcards.run)  # noqa: F821
    write_training_run(params.base, snakemake.input.preferences, params.checkpoint_dir, params.settings,  # noqa: F821
                       params.n_train, params.n_heldout, snakemake.output[0], device=params.device,  # noqa: F821
                       threads=snakemake.threads)  # noqa: F821

import torch

from rmbias.io import write_json
from rmbias.logs import job_log
from rmbias.models import ModelSpec
from rmbias.training import RewardTrainingConfig, saved_checkpoint_steps, train_reward_model_on_file

torch.set_num_threads(snakemake.threads)

with job_log(snakemake.log[0]) as log:
    params = snakemake.params
    final = train_reward_model_on_file(
        base=ModelSpec.from_entry(params.base),
        preference_file=snakemake.input.preferences,
        out_dir=params.checkpoint_dir,
        cfg=RewardTrainingConfig.from_mapping(params.settings),
        n_train=params.n_train,
        n_heldout=params.n_heldout,
        device=params.device,
    )
    steps = saved_checkpoint_steps(params.checkpoint_dir)
    log.info("final checkpoint %s; %d checkpoints", final, len(steps))
    write_json({"checkpoint_dir": params.checkpoint_dir, "steps": steps, "metrics": f"{params.checkpoint_dir}/metrics.csv"},
               snakemake.output[0])

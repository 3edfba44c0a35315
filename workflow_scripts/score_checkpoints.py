import torch

from rmbias.checkpoints import write_checkpoint_scores
from rmbias.logs import job_log

torch.set_num_threads(snakemake.threads)

with job_log(snakemake.log[0]):
    params = snakemake.params
    write_checkpoint_scores(
        params.base,
        params.checkpoint_dir,
        params.prompt_key,
        params.prompt,
        snakemake.input.candidates,
        params.shard_dir,
        snakemake.output[0],
        method=params.method,
        shard_size=params.shard_size,
        device=params.device,
    )

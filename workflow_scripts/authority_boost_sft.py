import torch

from rmbias.logs import job_log
from rmbias.models import ModelSpec
from rmbias.training import SftConfig, authority_examples, finetune_sft_lora

torch.set_num_threads(snakemake.threads)

with job_log(snakemake.log[0]):
    finetune_sft_lora(
        base=ModelSpec.from_entry(snakemake.params.base),
        examples=authority_examples(
            prompts=snakemake.params.prompts,
            train_keys=snakemake.params.train_keys,
            extra_prompts=snakemake.params.extra_prompts,
            words=snakemake.params.words,
        ),
        out_dir=snakemake.output[0],
        cfg=SftConfig.from_mapping(snakemake.params.settings),
        device=snakemake.params.device,
    )

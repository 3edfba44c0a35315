"""Snakemake script: the Appendix F boosted model, a LoRA SFT of the base on the authority words."""

from rmbias.logs import job_log
from rmbias.training.sft import boost_authority_words

with job_log(snakemake.log[0]):  # noqa: F821
    params = snakemake.params  # noqa: F821
    boost_authority_words(params.base, params.prompts, params.train_keys, params.extra_prompts, params.words,
                          params.settings, snakemake.output[0], device=params.device,  # noqa: F821
                          threads=snakemake.threads)  # noqa: F821

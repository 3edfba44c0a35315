"""Snakemake script: one language model's next-token log-probabilities after every prompt.

params: entry, prompts. The device is the first GPU when the job has one, else the CPU.
"""

from rmbias.logs import job_log
from rmbias.scoring.logprobs import write_logprobs

with job_log(snakemake.log[0]):  # noqa: F821
    write_logprobs(
        snakemake.params.entry,  # noqa: F821
        snakemake.params.prompts,  # noqa: F821
        snakemake.output[0],  # noqa: F821
        device="auto",
        threads=snakemake.threads,  # noqa: F821
    )

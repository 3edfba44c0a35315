"""Snakemake script: convert one model's GGUF checkpoint into a Hugging Face directory."""

from rmbias.logs import job_log
from rmbias.models.gguf import convert_gguf

with job_log(snakemake.log[0]):  # noqa: F821
    convert_gguf(snakemake.params.entry, snakemake.output[0], base_dir=snakemake.params.base_dir)  # noqa: F821

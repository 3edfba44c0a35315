"""Snakemake script: our dictionary-scope scores of one RM against its published scores.

input: ours (parquet), published (CSV). output: per prompt n, Spearman rho, max |difference|.
"""

from rmbias.logs import job_log
from rmbias.reproduction import write_reproduction_check

with job_log(snakemake.log[0]):  # noqa: F821
    write_reproduction_check(snakemake.input.ours, snakemake.input.published, snakemake.output[0])  # noqa: F821

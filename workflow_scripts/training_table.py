"""Snakemake script: an Appendix H.1 table, a run's top and bottom tokens at its early and final checkpoint."""

from rmbias.logs import job_log
from rmbias.training.early_final_tables import early_final_table

with job_log(snakemake.log[0]):  # noqa: F821
    params = snakemake.params  # noqa: F821
    early_final_table(snakemake.input[0], snakemake.output.csv, snakemake.output.tex,  # noqa: F821
                      caption=params.caption, label=params.label, first_step=params.first_step,
                      final_step=params.final_step, n=params.n)

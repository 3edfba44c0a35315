"""Snakemake script: Figure A7, the trajectories of the rank-change figures' tokens over checkpoints."""

from rmbias.figures.training import draw_rank_trajectories
from rmbias.logs import job_log

with job_log(snakemake.log[0]):  # noqa: F821
    draw_rank_trajectories(
        changes_path=snakemake.input.changes,  # noqa: F821
        trajectories_path=snakemake.input.trajectories,  # noqa: F821
        runs=snakemake.params.runs,  # noqa: F821
        out_pdf=snakemake.output.pdf,  # noqa: F821
        out_png=snakemake.output.png,  # noqa: F821
    )

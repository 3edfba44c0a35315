from rmbias.figures.training import draw_rank_changes
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    draw_rank_changes(
        changes_path=snakemake.input[0], run=snakemake.params.run, out_pdf=snakemake.output.pdf, out_png=snakemake.output.png
    )

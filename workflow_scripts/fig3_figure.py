from rmbias.figures.base_models import draw_lollipop
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    draw_lollipop(mwlr_path=snakemake.input[0], out_pdf=snakemake.output.pdf, out_png=snakemake.output.png)

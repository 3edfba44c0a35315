from rmbias.figures.base_models import draw_authority_figures
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    draw_authority_figures(
        recovery_path=snakemake.input.recovery,
        words_path=snakemake.input.words,
        generation_path=snakemake.input.generation,
        recovery_pdf=snakemake.output.recovery_pdf,
        recovery_png=snakemake.output.recovery_png,
        words_pdf=snakemake.output.words_pdf,
        words_png=snakemake.output.words_png,
    )

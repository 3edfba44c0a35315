from rmbias.figures.reward_models import draw_published_ablations
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    draw_published_ablations(
        ablations_path=snakemake.input.ablations,
        warnings_path=snakemake.input.warnings,
        out_pdf=snakemake.output.pdf,
        out_png=snakemake.output.png,
        include_qwen=snakemake.params.include_qwen,
    )

from rmbias.figures.reward_models import draw_own_ablations
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    draw_own_ablations(
        final_ranks_path=snakemake.input[0],
        out_pdf=snakemake.output.pdf,
        out_png=snakemake.output.png,
        include_qwen=snakemake.params.include_qwen,
    )

from rmbias.figures.training import draw_checkpoint_ranks
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    draw_checkpoint_ranks(
        ranks_path=snakemake.input[0],
        runs=snakemake.params.runs,
        out_pdf=snakemake.output.pdf,
        out_png=snakemake.output.png,
        include_qwen=snakemake.params.include_qwen,
    )

from rmbias.figures.reward_models import draw_combined_rank_violins
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    draw_combined_rank_violins(
        observations_path=snakemake.input.observations,
        panel_tests_path=snakemake.input.panel_tests,
        configured_path=snakemake.input.configured,
        out_pdf=snakemake.output.pdf,
        out_png=snakemake.output.png,
    )

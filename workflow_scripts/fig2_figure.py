from rmbias.figures.base_models import draw_split_violins
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    draw_split_violins(
        observations_path=snakemake.input.observations,
        welch_path=snakemake.input.welch,
        out_pdf=snakemake.output.pdf,
        out_png=snakemake.output.png,
        model_order=snakemake.params.models,
        category_axis=snakemake.params.category_axis,
    )

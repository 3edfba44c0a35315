from rmbias.figures.base_models import draw_rendering_violins
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    draw_rendering_violins(
        observations_paths=snakemake.input.observations,
        welch_paths=snakemake.input.welch,
        anova_paths=snakemake.input.anova,
        out_pdf=snakemake.output.pdf,
        out_png=snakemake.output.png,
        model_orders=snakemake.params.models,
        category_axis=snakemake.params.category_axis,
    )

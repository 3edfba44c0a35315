from rmbias.implicit.rendering import fig2_rendering_sensitivity
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    fig2_rendering_sensitivity(
        anova_paths=snakemake.params.anova,
        models=snakemake.params.models,
        out_json=snakemake.output.json,
        out_csv=snakemake.output.csv,
    )

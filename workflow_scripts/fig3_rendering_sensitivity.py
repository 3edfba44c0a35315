from rmbias.implicit.rendering import fig3_rendering_table
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    fig3_rendering_table(
        pairs=snakemake.params.pairs,
        pair_paths=list(snakemake.input),
        model_info=snakemake.params.model_info,
        words=snakemake.params.words,
        out_csv=snakemake.output[0],
    )

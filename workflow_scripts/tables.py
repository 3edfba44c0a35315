from rmbias.implicit.tables import top_bottom_table
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    top_bottom_table(
        implicit_path=snakemake.input.implicit,
        csv_path=snakemake.output.csv,
        tex_path=snakemake.output.tex,
        caption=snakemake.params.caption,
        label=snakemake.params.label,
        measure=snakemake.params.measure,
        n=snakemake.params.n,
    )

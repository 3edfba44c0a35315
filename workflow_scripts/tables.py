"""Snakemake script: top/bottom token table (Table 1, A2, A3) of one implicit pair, as CSV and LaTeX.

input: implicit (a results/implicit/{prompt}/{a}__{b}.parquet); params: measure, n, caption,
label; output: csv, tex.
"""

from rmbias.io import read_parquet
from rmbias.tables import write_top_bottom

params = snakemake.params  # noqa: F821
write_top_bottom(
    read_parquet(snakemake.input.implicit, columns=["decoded", params.measure]),  # noqa: F821
    csv_path=snakemake.output.csv,  # noqa: F821
    tex_path=snakemake.output.tex,  # noqa: F821
    caption=params.caption,
    label=params.label,
    measure=params.measure,
    n=params.n,
)

from rmbias.implicit.figure3 import figure3_table
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    figure3_table(
        pair_paths={tuple(pair): path for pair, path in zip(snakemake.params.pairs, snakemake.input)},
        model_info=snakemake.params.model_info,
        words=snakemake.params.words,
        out_csv=snakemake.output[0],
    )

from rmbias.basemodels import figure3_data
from rmbias.io import write_csv
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    pairs = {tuple(pair): path for pair, path in zip(snakemake.params.pairs, snakemake.input)}
    write_csv(figure3_data(pairs, snakemake.params.model_info, snakemake.params.words), snakemake.output[0])

from rmbias.corpora.dictionaries import read_dictionary
from rmbias.io import write_parquet
from rmbias.logs import job_log

with job_log(snakemake.log[0]) as log:
    corpus = read_dictionary(snakemake.input[0], snakemake.wildcards.dictionary)
    write_parquet(corpus, snakemake.output[0])
    log.info("%s: %d rows, %d terms", snakemake.wildcards.dictionary, len(corpus), corpus["term"].nunique())

from rmbias.corpora.dictionaries import read_lexicon
from rmbias.io import write_parquet
from rmbias.logs import job_log

with job_log(snakemake.log[0]) as log:
    corpus = read_lexicon(snakemake.input[0], snakemake.params.lexicon)
    write_parquet(corpus, snakemake.output[0])
    log.info("%s: %d rows, %d terms, %d categories", snakemake.wildcards.dictionary, len(corpus), corpus["term"].nunique(),
             corpus["category"].nunique())

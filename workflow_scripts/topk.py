from rmbias.implicit.topk import topk_statistics
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    topk_statistics(
        score_paths=dict(zip(snakemake.params.rms, snakemake.input.scores)),
        token_table_paths=snakemake.input.tokens,
        corpus_path=snakemake.input.corpus,
        prompt=snakemake.params.prompt,
        k=snakemake.params.k,
        families=snakemake.params.families,
        paper_rms=snakemake.params.paper_rms,
        published_name_of=snakemake.params.published_name_of,
        per_rm_csv=snakemake.output.per_rm,
        per_family_csv=snakemake.output.per_family,
        json_path=snakemake.output.json,
    )

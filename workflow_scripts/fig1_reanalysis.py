from rmbias.logs import job_log
from rmbias.reanalysis import reanalyse_published_scores, write_ranking_analysis

with job_log(snakemake.log[0]) as log:
    params = snakemake.params
    analysis = reanalyse_published_scores(
        score_paths=dict(zip(params.rm_names, snakemake.input.scores)),
        corpus_path=snakemake.input.corpus,
        prompts=params.prompts,
        mfd_scheme=params.mfd_scheme,
        n_permutations=params.n_permutations,
        seed=params.seed,
        star_p=params.star_p,
    )
    write_ranking_analysis(analysis, dict(snakemake.output.items()), label=f"fig1_{snakemake.wildcards.corpus}")
    for warning in analysis.mixed_model.optimizer_warnings:
        log.warning("mixed model: %s", warning)
    log.info("%d observations from %d RMs", analysis.mixed_model.n_obs, analysis.mixed_model.n_groups)

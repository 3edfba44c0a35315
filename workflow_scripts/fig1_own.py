from rmbias.logs import job_log
from rmbias.statistics.figure1_outputs import own_figure1_statistics

with job_log(snakemake.log[0]):
    own_figure1_statistics(
        score_paths=dict(zip(snakemake.params.rm_ids, snakemake.input.scores)),
        families=snakemake.params.families,
        corpus_path=snakemake.input.corpus,
        prompts=snakemake.params.prompts,
        mfd_scheme=snakemake.params.mfd_scheme,
        category_name=snakemake.params.category_name,
        reference_category=snakemake.params.reference_category,
        n_permutations=snakemake.params.n_permutations,
        seed=snakemake.params.seed,
        star_p=snakemake.params.star_p,
        outputs=dict(snakemake.output.items()),
        label=f"fig1_{snakemake.wildcards.corpus}_own",
    )

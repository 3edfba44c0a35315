from rmbias.basemodels import figure2_analysis
from rmbias.io import write_csv, write_json, write_parquet
from rmbias.logs import job_log
from rmbias.stats import stat_records

with job_log(snakemake.log[0]):
    out = snakemake.output
    observations, anova, welch = figure2_analysis(
        dict(zip(snakemake.params.models, snakemake.input.logprobs)), snakemake.input.corpus, snakemake.params.prompts
    )
    write_parquet(observations, out.observations)
    write_csv(anova, out.anova_csv)
    write_json(
        stat_records(anova.dropna(subset=["F"]), analysis=f"fig2_{snakemake.wildcards.variant}_anova",
                     test="3-way ANOVA, type II (OLS)", statistic="F", p="p", df="df"),
        out.anova_json,
    )
    write_csv(welch, out.welch_csv)
    write_json(
        stat_records(welch, analysis=f"fig2_{snakemake.wildcards.variant}_welch", test="Welch t",
                     statistic="t", p="p_welch", df="df", correction="Benjamini-Hochberg FDR over cells (p_fdr)"),
        out.welch_json,
    )

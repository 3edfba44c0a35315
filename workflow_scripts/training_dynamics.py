from rmbias.dynamics import training_dynamics
from rmbias.io import write_csv, write_json
from rmbias.logs import job_log
from rmbias.stats import stat_records

with job_log(snakemake.log[0]):
    params = snakemake.params
    frames = training_dynamics(
        dict(zip([r["run"] for r in params.runs], snakemake.input.scores)),
        snakemake.input.tokens,
        snakemake.input.corpus,
        params.runs,
        params.external_points,
    )
    for name in ("ranks", "final", "kendall", "changes"):
        write_csv(frames[name], snakemake.output[name])
    write_json(
        {
            "analysis": "training_dynamics",
            "kendall": stat_records(frames["kendall"].dropna(subset=["tau_previous"]), analysis="training_kendall",
                                    test="Kendall tau-b, consecutive checkpoints", statistic="tau_previous", p="p_previous"),
            "final_ranks": frames["final"].to_dict(orient="records"),
        },
        snakemake.output.json,
    )

"""The default config end to end: one real `snakemake --cores 2` run of the demo world.

The run happens once per session (fixture ``demo_run``); the tests then check what the
workflow promises: the planted effect is recovered by every stage, a second run has nothing
to do, editing one model entry makes exactly its descendants stale, a single figure target
builds only its ancestors, the report builds, and no log contains the Hugging Face token.
"""

import json
import re
import zipfile

import pandas as pd
import pytest
import yaml
from demo_run import HF_TOKEN
from test_report import docutils_messages
from workflow_helpers import REPO_ROOT, copy_workflow, job_counts, run_snakemake

from rmbias.corpora.dictionaries import normalize_term
from rmbias.corpora.vocabulary import read_category_by_term
from rmbias.demo.world import DEMO_LMS, DEMO_RMS
from rmbias.records import read_record
from rmbias.statistics.profile_uncertainty import INTERVAL_COLUMNS


def test_planted_effect_in_figure2_three_way_interaction(demo_run):
    anova = pd.read_csv(demo_run / "results/stats/fig2_instruct_anova.csv")
    interaction = anova[anova["term"] == "C(category):C(framing):C(model)"].iloc[0]
    assert interaction["p"] < 0.001
    obs = pd.read_parquet(demo_run / "results/stats/fig2_instruct_observations.parquet")
    means = obs.groupby(["framing", "category", "model"])["median_rank"].mean()
    # planted: the llama world answers positive prompts with agency words, the gemma world with communion
    assert means["positive", "Agency", "demo-llama-it"] < means["positive", "Agency", "demo-gemma-it"]
    assert means["positive", "Communion", "demo-gemma-it"] < means["positive", "Communion", "demo-llama-it"]
    assert means["negative", "Communion", "demo-llama-it"] < means["negative", "Communion", "demo-gemma-it"]


@pytest.mark.parametrize("variant", ["instruct", "pretrained"])
def test_figure2_ranks_the_demo_lexicon(demo_run, variant):
    # implicit.fig2_lexicons adds the demo lexicon: Figure 2 of each set over its 4 categories
    stats = demo_run / "results/stats"
    obs = pd.read_parquet(stats / f"fig2_{variant}_demo_virtues_observations.parquet")
    lexicon = pd.read_csv(REPO_ROOT / "config/lexicons/demo_virtues.csv")
    assert set(obs["category"]) == set(lexicon["category"])
    assert obs.groupby(["model", "framing", "category"]).size().eq(27).all()  # 27 prompts per framing
    assert obs.groupby(["model", "framing", "category"])["median_rank"].std().gt(0).all()
    anova = pd.read_csv(stats / f"fig2_{variant}_demo_virtues_anova.csv")
    assert "C(category):C(framing):C(model)" in set(anova["term"])
    assert read_record(stats / f"fig2_{variant}_demo_virtues_anova.json")["analysis"] == f"fig2_{variant}_demo_virtues_anova"
    panel = "fig2a" if variant == "instruct" else "fig2b"
    assert (demo_run / f"results/figures/{panel}_{variant}_demo_virtues.png").stat().st_size > 0


@pytest.mark.parametrize("variant", ["instruct", "pretrained"])
def test_figure2_ranks_vary_from_prompt_to_prompt(demo_run, variant):
    # every violin of Figure 2 has a width: no model ranks a category alike on all 27 prompts
    obs = pd.read_parquet(demo_run / f"results/stats/fig2_{variant}_observations.parquet")
    spread = obs.groupby(["model", "framing", "category"])["median_rank"].std()
    assert len(spread) == 8 and (spread > 0).all(), spread


def test_figure2_per_prompt_gaps_follow_the_planted_per_prompt_strengths(demo_run):
    # a simulation with known truth down to the prompt: how far an instruct LM ranks its world's
    # favoured category above the other follows each prompt's planted strength
    truth = json.loads((demo_run / "results/models/demo_world.json").read_text())["prompt_truth"]
    obs = pd.read_parquet(demo_run / "results/stats/fig2_instruct_observations.parquet")
    wide = obs.pivot_table(index=["model", "prompt", "framing"], columns="category", values="median_rank").reset_index()
    family = wide["model"].str.split("-").str[1]
    favoured = [truth[fam][prompt]["favoured_category"] for fam, prompt in zip(family, wide["prompt"])]
    wide["favoured_lead"] = [row.Communion - row.Agency if category == "Agency" else row.Agency - row.Communion
                             for row, category in zip(wide.itertuples(), favoured)]
    wide["strength"] = [truth[fam][prompt]["strength"] for fam, prompt in zip(family, wide["prompt"])]
    correlations = wide.groupby(["model", "framing"])[["favoured_lead", "strength"]].corr().xs("strength", level=2)
    print(correlations["favoured_lead"])
    assert (correlations["favoured_lead"] > 0.5).all(), correlations


@pytest.mark.parametrize("model, favoured_on_positive", [
    ("demo-llama-it-large", "Agency"), ("demo-gemma-it-large", "Communion"),
])
def test_large_demo_models_learn_the_planted_preference(demo_run, model, favoured_on_positive):
    # The 256-wide LMs learn the planted effect in the full world (in the 60-word world of
    # tests/test_demo.py some seeds stall at the unconditional answer distribution).
    prompts = yaml.safe_load((demo_run / "config/prompts.yaml").read_text())["prompts"]
    category_by_term = read_category_by_term(demo_run / "results/corpora/big2_nouns.parquet")
    logprobs = pd.read_parquet(demo_run / f"results/logprobs/{model}.parquet")
    logprobs["category"] = logprobs["decoded"].map(lambda decoded: category_by_term.get(normalize_term(decoded)))
    by_category = logprobs.dropna(subset=["category"]).groupby("category")
    sign = 1 if favoured_on_positive == "Agency" else -1
    for framing, direction in (("positive", sign), ("negative", -sign)):
        keys = [key for key, prompt in prompts.items() if prompt["framing"] == framing]
        mean_logp = by_category[keys].mean().mean(axis=1)
        assert direction * (mean_logp["Agency"] - mean_logp["Communion"]) > 1.0, (framing, mean_logp)


def test_mwlr_extremes_are_agency_and_communion_words(demo_run):
    corpus = pd.read_parquet(demo_run / "results/corpora/big2_expanded.parquet")
    category = dict(zip(corpus["term"], corpus["category"]))
    table = pd.read_csv(demo_run / "results/tables/table1.csv", keep_default_na=False)
    top = table[table["half"] == "top"].sort_values("rank")["decoded"].iloc[0]
    bottom = table[table["half"] == "bottom"].sort_values("rank")["decoded"].iloc[-1]
    assert category.get(top.strip().lower()) == "Agency", top
    assert category.get(bottom.strip().lower()) == "Communion", bottom
    assert (demo_run / "results/tables/table1.tex").read_text().count("\\\\") >= 30


def test_generation_check_answers_every_held_out_prompt(demo_run):
    table = pd.read_csv(demo_run / "results/stats/authority_generation.csv", keep_default_na=False)
    assert len(table) == 9 and table["boosted"].dtype == bool
    record = json.loads((demo_run / "results/stats/authority_generation.json").read_text())
    assert record["n_prompts"] == 9 and record["n_boosted_first_word"] == int(table["boosted"].sum())


def test_authority_boost_is_recovered_by_mwlr_on_held_out_prompts(demo_run):
    recovery = pd.read_csv(demo_run / "results/stats/authority_recovery.csv")
    assert set(zip(recovery["measure"], recovery["template"])) == {
        (m, t) for m in ("LLR", "LR-20", "LR-10", "p1LR", "p2LR", "MWLR", "GMLR", "JSLR") for t in ("with", "without")
    }
    assert recovery["n_in_top10"].between(0, 10).all()
    in_top10 = recovery.set_index(["measure", "template"])["n_in_top10"]
    # Appendix F's claim, with the training chat template: MWLR finds (nearly) all 10 words
    assert in_top10["MWLR", "with"] >= 9
    words = pd.read_csv(demo_run / "results/stats/authority_words.csv")
    assert words["boosted"].sum() == 10
    # Figure A3b: only the boosted words gain; the other authority.virtue words stay near 0
    assert words.loc[words["boosted"], "mwlr"].min() > 5 * words.loc[~words["boosted"], "mwlr"].abs().max()


def test_section4_runs_inherit_the_planted_preference(demo_run):
    # Figure 4a at the final checkpoint, positive score prompt: at every data size the
    # Llama-based run ranks agency above (a smaller rank than) the Gemma-based run, and
    # communion below.
    final = pd.read_csv(demo_run / "results/stats/training_final_ranks.csv")
    ranks = final.set_index(["data_size_k", "base_model", "category"])["median_rank"]
    sizes = sorted(final["data_size_k"].unique())
    assert len(sizes) == 2, sizes
    for size in sizes:
        assert ranks[size, "Llama", "Agency"] < ranks[size, "Gemma", "Agency"], final
        assert ranks[size, "Llama", "Communion"] > ranks[size, "Gemma", "Communion"], final


def test_topk_counts_each_rms_top_tokens_by_category(demo_run):
    per_rm = pd.read_csv(demo_run / "results/stats/topk_per_rm.csv")
    assert set(per_rm["rm"]) == set(DEMO_RM_FAMILIES)
    assert set(per_rm["category"]) == {"Agency", "Communion"}
    counts = per_rm.groupby("rm")["count"].sum()
    assert ((counts >= 0) & (counts <= 10)).all()
    ranked = per_rm[per_rm["count"] > 0]
    assert ((ranked["mean_rank"] >= 1) & (ranked["mean_rank"] <= 10)).all()
    per_family = pd.read_csv(demo_run / "results/stats/topk_per_family.csv")
    assert set(per_family["rms"]) == {";".join(sorted(rm for rm, family in DEMO_RM_FAMILIES.items() if family == label))
                                      for label in ("Gemma", "Llama", "Qwen")}  # families from the config entries
    assert dict(zip(per_family["rms"].str.split("-").str[1], per_family["n_rms"])) == {"gemma": 3, "llama": 4, "qwen": 2}


def test_every_model_records_its_rendered_prompts(demo_run):
    config = yaml.safe_load((demo_run / "config/config.yaml").read_text())
    for entry in config["models"] + config["reward_models"]:
        prompts = pd.read_csv(demo_run / f"results/prompts/{entry['id']}.csv", keep_default_na=False)
        assert len(prompts) == 54 and (prompts["model"] == entry["id"]).all()
        assert (prompts["n_tokens"] == prompts["token_ids"].str.split().str.len()).all()


def test_every_stats_json_is_one_record_of_the_one_shape(demo_run):
    paths = {path.name: path for path in (demo_run / "results/stats").glob("*.json")}
    assert {"fig1_big2_panel_tests.json", "fig2_instruct_welch.json", "topk.json", "training_dynamics.json"} <= set(paths)
    records = {name: read_record(path) for name, path in paths.items()}  # read_record validates the shape
    welch = records["fig2_instruct_welch.json"]["tests"]
    assert len(welch) == 4 and all(entry["correction"].startswith("Benjamini-Hochberg") for entry in welch)
    assert {entry["cell"]["run"] for entry in records["training_dynamics.json"]["tests"]}
    assert records["topk.json"]["parameters"]["k"] >= 1


def test_training_logged_falling_loss_and_heldout_accuracy(demo_run):
    metrics = pd.read_csv(demo_run / "results/training/llama-synth-large/checkpoints/metrics.csv")
    assert metrics["heldout_loss"].iloc[-1] < metrics["heldout_loss"].iloc[0]
    assert metrics["heldout_accuracy"].iloc[-1] > 0.8
    steps = json.loads((demo_run / "results/training/llama-synth-large/checkpoints.json").read_text())["steps"]
    scores = pd.read_parquet(demo_run / "results/training/llama-synth-large/scores.parquet")
    assert [c for c in scores.columns if c.startswith("step-")] == [f"step-{s}" for s in steps]


def test_long_jobs_log_where_they_are(demo_run):
    # RM training and the authority SFT: a progress line every log_every_steps (default 10)
    # optimizer steps and at the last; RM training also a line per checkpoint; the demo build a
    # line per model with its final loss and time.
    progress = r"step (\d+)/{total} loss \d+\.\d{{4}} lr \d\.\de-\d\d \d+\.\d examples/s"
    train_log = (demo_run / "logs/train_rm/llama-synth-large.log").read_text()
    total = int(re.search(r"training 256 pairs for (\d+) optimizer steps", train_log).group(1))
    steps = [int(step) for step in re.findall(progress.format(total=total), train_log)]
    assert steps == [*range(10, total, 10), total]
    saved = json.loads((demo_run / "results/training/llama-synth-large/checkpoints.json").read_text())["steps"]
    assert [int(step) for step in re.findall(rf"checkpoint step (\d+)/{total} saved to \S+checkpoint-\1;", train_log)] == saved
    sft_log = (demo_run / "logs/authority_boost_sft/demo-gemma-it-large.log").read_text()
    total = int(re.search(r"authority SFT: (\d+) optimizer steps", sft_log).group(1))
    assert [int(step) for step in re.findall(progress.format(total=total), sft_log)] == [*range(10, total, 10), total]
    build_log = (demo_run / "logs/demo_models.log").read_text()
    built = re.findall(r"demo model (\S+) \(\S+\): \d+ steps in \d+\.\d s, final loss (?:\w+ \d+\.\d{4} ?)+$", build_log, re.MULTILINE)
    assert sorted(built) == sorted(spec.id for spec in DEMO_LMS + DEMO_RMS)


def test_second_run_has_nothing_to_do(demo_run, reference_mirror):
    result = run_snakemake(demo_run, "-n", "--cores", "2", "--config", f"reference_mirror={reference_mirror}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Nothing to be done" in result.stdout, job_counts(result.stdout)


def test_logs_never_contain_the_hf_token(demo_run):
    logs = [p for p in (demo_run / "logs").rglob("*") if p.is_file()] + list((demo_run / ".snakemake/log").glob("*"))
    assert logs
    assert not [str(p) for p in logs if HF_TOKEN in p.read_text(errors="replace")]


def test_report_builds_with_every_figure(demo_run, reference_mirror):
    result = run_snakemake(demo_run, "--report", "results/report.zip", "--config", f"reference_mirror={reference_mirror}")
    assert result.returncode == 0, result.stdout[-3000:]
    assert docutils_messages(result.stdout) == []
    names = zipfile.ZipFile(demo_run / "results/report.zip").namelist()
    for figure in ("fig1a_big2", "fig2a_instruct", "fig3_lollipop", "fig4a_training_checkpoints", "figA3a_authority",
                   "fig1a_big2_own", "fig1b_mfd_combined", "rm_profiles", "figA7_trajectories"):
        assert any(name.endswith(f"{figure}.pdf") for name in names), figure


def test_h1_tables_and_trajectories_of_the_rank_change_runs(demo_run):
    changes = pd.read_csv(demo_run / "results/stats/training_rank_changes.csv", keep_default_na=False)
    trajectories = pd.read_csv(demo_run / "results/stats/training_rank_trajectories.csv", keep_default_na=False)
    for run in ("llama-synth-large", "gemma-synth-large", "qwen-synth-large"):
        table = pd.read_csv(demo_run / f"results/tables/tableH1_{run}.csv", keep_default_na=False)
        assert len(table) == 4 * 5 and set(table["checkpoint"]) == {"early", "final"}
        assert "Top early tokens" in (demo_run / f"results/tables/tableH1_{run}.tex").read_text()
        of_run = trajectories[trajectories["run"] == run]
        final = of_run[of_run["step"] == of_run["step"].max()]
        assert final.set_index("token")["rank"].to_dict() == changes[changes["run"] == run].set_index("token")["rank_final"].to_dict()


def test_editing_one_model_entry_makes_exactly_its_descendants_stale(demo_run, reference_mirror, tmp_path):
    workdir = demo_run
    config_path = workdir / "config/config.yaml"
    original = config_path.read_text()
    config = yaml.safe_load(original)
    entry = next(m for m in config["models"] if m["id"] == "demo-gemma-it-large")
    entry["revision"] = "b" * 40
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        result = run_snakemake(workdir, "-n", "--cores", "2", "--config", f"reference_mirror={reference_mirror}")
    finally:
        config_path.write_text(original)
    assert result.returncode == 0, result.stdout[-3000:]
    # demo-gemma-it-large feeds its rendered prompts, Figure 3 (two Llama pairs), Table A2, the whole
    # Appendix F chain (it is the boosted base, with the generation check) and the config record; no
    # single-token analysis reads its vocabulary, so no token table or lexicon check is stale
    assert job_counts(result.stdout) == {
        "rendered_prompts": 1,
        "logprobs": 1,
        "implicit_pair": 2,
        "table": 1,
        "fig3_data": 1,
        "fig3_figure": 1,
        "authority_boost_sft": 1,
        "authority_logprobs": 4,
        "authority_analysis": 1,
        "authority_generation": 1,
        "authority_figures": 1,
        "config_used": 1,
        "all": 1,
        "total": 17,
    }


def test_adding_one_rm_makes_stale_exactly_its_scoring_and_the_configured_rm_analysis(demo_run, reference_mirror):
    config_path = demo_run / "config/config.yaml"
    original = config_path.read_text()
    config = yaml.safe_load(original)
    # a new RM entry that is not built by demo_models (its weights are another demo RM's)
    config["reward_models"].append(
        {"id": "extra-llama-rm", "hf": "results/models/demo-llama-rm-a", "family": "llama", "type": "instruction-tuned", "score": "logits[:, 0]"}
    )
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        result = run_snakemake(demo_run, "-n", "--cores", "2", "--config", f"reference_mirror={reference_mirror}")
    finally:
        config_path.write_text(original)
    assert result.returncode == 0, result.stdout[-3000:]
    # its rendered prompts, token table (its vocab-scope candidates) and its searches (one per lexicon
    # of the dictionary scope, and the vocab scope), the configured RMs' Figure 1 (3 lexicons, 6 + 2
    # figures), the profiles and their figure, top-k (it reads every RM's vocab scores) and the
    # config record; the lexicons' single-token checks read Figure 2's and top-k's LLMs, not RMs
    assert job_counts(result.stdout) == {
        "rendered_prompts": 1,
        "token_table": 1,
        "rm_scores": 3 + 1,
        "fig1_own": 3,
        "fig1_own_figure": 6,
        "fig1_combined_figure": 2,
        "rm_profiles": 1,
        "rm_profile_figure": 1,
        "topk": 1,
        "config_used": 1,
        "all": 1,
        "total": 22,
    }


OWN_FIG1_STATS = [f"fig1_{corpus}_own_{part}" for corpus in ("big2", "mfd")
                  for part in ("mixed_model", "maximal_model", "evidence", "panel_tests", "means", "rm_level")]
DEMO_RM_FAMILIES = {**{f"demo-llama-rm-{x}": "Llama" for x in "abcd"}, **{f"demo-gemma-rm-{x}": "Gemma" for x in "abc"},
                    **{f"demo-qwen-rm-{x}": "Qwen" for x in "ab"}}
"""The demo config's RMs and their families as the outputs name them (DEMO_RMS of rmbias.demo.world)."""


def test_configured_rm_outputs_have_the_published_files_columns(demo_run):
    stats = demo_run / "results/stats"
    for name in OWN_FIG1_STATS:
        published = pd.read_csv(stats / f"{name.replace('_own', '')}.csv")
        own = pd.read_csv(stats / f"{name}.csv")
        assert list(own.columns) == list(published.columns), name
        assert not own.empty, name  # two families with three or four RMs each: every part is computed
        read_record(stats / f"{name}.json")
    obs = pd.read_parquet(stats / "fig1_big2_own_observations.parquet")
    assert dict(obs.drop_duplicates("rm")[["rm", "base_model"]].values) == DEMO_RM_FAMILIES
    profiles = pd.read_csv(stats / "rm_profiles.csv")
    assert {"source", "rm", "base_model", "dictionary", "category", "framing", "median_rank", "n_ranked", "rank_fraction",
            "centred_rank_fraction", "percentile_among_published", "percentile_among_own_family",
            *INTERVAL_COLUMNS} == set(profiles.columns)
    assert profiles.groupby("source")["rm"].nunique().to_dict() == {"configured": 9, "published": 10}
    # no published RM is Qwen-based: the Qwen RMs have percentiles among all published RMs, none among their family
    qwen = profiles[(profiles["base_model"] == "Qwen") & profiles["dictionary"].isin(["big2", "mfd"])]
    assert set(qwen["rm"]) == {"demo-qwen-rm-a", "demo-qwen-rm-b"} and qwen["percentile_among_own_family"].isna().all()
    assert qwen["percentile_among_published"].between(0, 100).all()
    assert profiles["rank_fraction"].between(0, 1).all()
    # the demo lexicon: every configured RM's profile over its 4 categories, and no published RM beside it
    virtues = profiles[profiles["dictionary"] == "demo_virtues"]
    assert set(virtues["source"]) == {"configured"} and virtues.groupby("rm").size().eq(4 * 2).all() and len(virtues) == 9 * 8
    assert virtues["percentile_among_published"].isna().all() and virtues["rank_fraction_low"].notna().all()
    for figure in ("fig1a_big2_own", "fig1b_mfd_own", "figA1a_big2_own", "figA1b_mfd_own", "fig1a_big2_combined",
                   "fig1b_mfd_combined", "rm_profiles"):
        for ext in ("pdf", "png"):
            assert (demo_run / f"results/figures/{figure}.{ext}").stat().st_size > 0, figure


def test_configured_rms_inherit_the_planted_preference_in_figure1(demo_run):
    stats = demo_run / "results/stats"
    fixed = pd.read_csv(stats / "fig1_big2_own_mixed_model.csv")
    three_way = fixed[fixed["term"].str.count(":") == 2]
    assert len(three_way) == 1 and three_way["p"].iloc[0] < 0.001, three_way
    means = pd.read_csv(stats / "fig1_big2_own_means.csv").set_index(["framing", "category"])
    # planted: the llama world answers positive prompts with agency words (a better, lower rank)
    assert means.loc[("positive", "Agency"), "Llama"] < means.loc[("positive", "Agency"), "Gemma"]
    panels = pd.read_csv(stats / "fig1_big2_own_panel_tests.csv").set_index(["category", "framing"])
    # planted direction of Llama - Gemma per panel: Llama favours agency under positive prompts and
    # communion under negative ones, Gemma the reverse
    planted_sign = {("Agency", "positive"): -1, ("Communion", "negative"): -1, ("Communion", "positive"): 1, ("Agency", "negative"): 1}
    in_direction = [
        panel
        for panel, sign in planted_sign.items()
        if panels.loc[panel, "p_permutation_bonferroni"] < 0.05
        and sign * (panels.loc[panel, "mean_Llama"] - panels.loc[panel, "mean_Gemma"]) > 0
    ]
    assert len(in_direction) >= 3, panels


def test_configured_rms_recover_the_planted_three_way_term_at_the_rm_level(demo_run):
    # 4 Llama + 3 Gemma RMs: the exact permutation over RM labels can reach 1/35. Planted: Llama's
    # communion-minus-agency framing contrast (negative - positive) is lower than Gemma's.
    tests = pd.read_csv(demo_run / "results/stats/fig1_big2_own_rm_level.csv")
    (row,) = tests[tests["term"] == "base_modelLlama:CategoryCommunion:prompt_framingnegative"].to_dict(orient="records")
    assert (row["n_Gemma"], row["n_Llama"], row["n_relabellings"]) == (3, 4, 35)
    assert row["p_exact"] < 0.05 and row["difference"] < 0, row
    evidence = pd.read_csv(demo_run / "results/stats/fig1_big2_own_evidence.csv").set_index("term")
    assert evidence.loc[row["term"], "p_rm_exact"] == row["p_exact"]
    panels = pd.read_csv(demo_run / "results/stats/fig1_big2_own_panel_tests.csv")
    assert (panels["star_p"] == "rm_level exact (holm)").all()  # the configured RMs' stars are RM-level


def test_rms_of_one_backbone_differ_and_every_cell_varies_over_prompts(demo_run):
    # the two RMs of a backbone (other head seed, other pairs) rank differently, and no RM ranks
    # a category alike on every prompt of a framing: the statistics are not degenerate
    obs = pd.read_parquet(demo_run / "results/stats/fig1_big2_own_observations.parquet")
    wide = obs.pivot_table(index=["prompt", "category"], columns="rm", values="median_rank")
    for family in ("llama", "gemma"):
        assert not wide[f"demo-{family}-rm-a"].equals(wide[f"demo-{family}-rm-b"]), family
    assert (obs.groupby(["rm", "framing", "category"])["median_rank"].std() > 0).all()
    fixed = pd.read_csv(demo_run / "results/stats/fig1_big2_own_mixed_model.csv")
    assert fixed["se"].gt(0).all() and fixed["t"].abs().lt(float("inf")).all()


def test_every_demo_rm_is_identified_as_its_family(demo_run):
    record = read_record(demo_run / "results/stats/family_identifiability.json")
    configured = {row["rm"]: row for row in record["configured"]}
    fitted = {rm: family for rm, family in DEMO_RM_FAMILIES.items() if family != "Qwen"}
    assert {rm: configured[rm]["predicted"] for rm in fitted} == fitted
    # the Qwen RMs: outside the fitted families, placed on the Llama-Gemma axis where the planted
    # world puts them (a Qwen world favours what Gemma's does, more strongly)
    gemma_side = [configured[rm]["score"] for rm, family in fitted.items() if family == "Gemma"]
    for rm in ("demo-qwen-rm-a", "demo-qwen-rm-b"):
        row = configured[rm]
        assert not row["in_fitted_families"] and row["predicted"] is None and row["correct"] is None
        assert row["score"] * sum(gemma_side) > 0 and row["score_low"] <= row["score"] <= row["score_high"]
    assert len(record["loo"]) == 10
    assert record["loo_accuracy"] == sum(row["predicted"] == row["base_model"] for row in record["loo"]) / 10
    assert record["majority_baseline"] == 0.6  # 6 of the 10 published RMs are Llama-based
    assert all(row["bootstrap_agreement"] > 0.5 for row in record["configured"])
    assert 2 <= len(record["top_features"]) <= 3


def test_every_job_wrote_its_declared_log(demo_run, reference_mirror):
    # The logs each finished output's job declared, as Snakemake recorded them (--summary).
    result = run_snakemake(demo_run, "--summary", "--cores", "1", "--config", f"reference_mirror={reference_mirror}")
    assert result.returncode == 0, result.stdout[-3000:]
    rows = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    header, outputs = rows[0], rows[1:]
    column = header.index("log-file(s)")
    logs_by_rule = {}
    for row in outputs:
        logs_by_rule.setdefault(row[header.index("rule")], set()).update(row[column].split(","))
    assert {"fetch_reference", "logprobs", "rm_scores", "train_rm", "fig1_figure", "config_used"} <= set(logs_by_rule)
    without_log = sorted(rule for rule, logs in logs_by_rule.items() if logs & {"-", ""})
    assert not without_log, f"rules that declare no log: {without_log}"
    missing_or_empty = sorted(
        f"{rule}: {log}"
        for rule, logs in logs_by_rule.items()
        for log in logs
        if not (demo_run / log).is_file() or (demo_run / log).stat().st_size == 0
    )
    assert not missing_or_empty, missing_or_empty

"""Tests of the rmbias.figures package on small synthetic frames.

Each frame builder seeds its own generator, so calling it twice gives the same frame.

Every figure is rendered once (module fixture) and its files and ggplot object are checked;
validation errors are raised before anything is drawn, so those tests are cheap.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from plotnine import geom_point, geom_pointrange, geom_text, geom_violin, ggplot, scale_y_reverse

from rmbias.figures.base_models import (
    plot_authority_recovery,
    plot_authority_words,
    plot_lollipop,
    plot_split_violins,
)
from rmbias.figures.reward_models import plot_ablations, plot_rank_violins, plot_rm_profiles
from rmbias.figures.scaffold import BASE_MODEL_COLOURS, colour_map
from rmbias.figures.training import (
    plot_checkpoint_ranks,
    plot_kendall,
    plot_rank_changes,
    plot_rank_trajectories,
    shown_rank_changes,
)
from rmbias.io import InputError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PROMPTS = {"positive": ["best_ever_one", "greatest_world_single"], "negative": ["worst_ever_one", "bad_time_please"]}


def median_ranks_fig1() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rms = {"Gemma": ["S-Gem-27B", "R-Gem-2B"], "Llama": ["S-Lla-8B", "R-Lla-3B"]}
    rows = [
        dict(rm=rm, base_model=base, prompt=prompt, framing=framing, category=category,
             median_rank=float(rng.uniform(20, 120)))
        for base, names in rms.items() for rm in names
        for framing, prompts in PROMPTS.items() for prompt in prompts
        for category in ("Agency", "Communion")
    ]
    return pd.DataFrame(rows)


def panel_tests_fig1() -> pd.DataFrame:
    return pd.DataFrame(
        [dict(category=c, framing=f, stars=s, star_p="permutation (bonferroni)")
         for c in ("Agency", "Communion") for f, s in (("positive", "***"), ("negative", "ns"))]
    )


def configured_ranks_fig1() -> pd.DataFrame:
    """Two configured RMs that rank 60 terms where the published ones rank 120 (median ranks 10 and 20)."""
    frame = median_ranks_fig1()
    own = frame[frame["rm"].isin(["S-Gem-27B", "S-Lla-8B"])].assign(n_ranked=60)
    own["rm"] = own["rm"].map({"S-Gem-27B": "own-gemma", "S-Lla-8B": "own-llama"})
    own["median_rank"] = np.where(own["rm"] == "own-gemma", 10.0, 20.0)
    return own


def profiles_rm() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = [
        dict(source=source, rm=rm, base_model=base, dictionary=dictionary, category=category, framing=framing,
             rank_fraction=float(rng.uniform(0.2, 0.8)))
        for source, rm, base in [("published", "S-Gem-27B", "Gemma"), ("published", "S-Lla-8B", "Llama"), ("configured", "own-llama", "Llama")]
        for dictionary, categories in (("big2", ("Agency", "Communion")), ("mfd", ("Care", "Fairness")))
        for category in categories for framing in ("positive", "negative")
    ]
    return pd.DataFrame(rows)


def median_ranks_fig2() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = [
        dict(model=model, prompt=prompt, framing=framing, category=category, median_rank=float(rng.uniform(10, 60)))
        for model in ("gemma-2-2b-it", "Llama-3.2-3B-Instruct")
        for framing, prompts in PROMPTS.items() for prompt in prompts
        for category in ("Agency", "Communion")
    ]
    return pd.DataFrame(rows)


def cell_tests_fig2() -> pd.DataFrame:
    return pd.DataFrame(
        [dict(framing=v, category=c, stars="**") for v in ("positive", "negative") for c in ("Agency", "Communion")]
    )


LLAMAS = [("Llama-3.1-8B", 3.1, 8), ("Llama-3-70B", 3.0, 70), ("Llama-3-8B", 3.0, 8)]
GEMMAS = [("gemma-2-9b", 2.0, 9), ("gemma-2-2b", 2.0, 2)]


def mwlr_fig3() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for llama, llama_version, llama_size in LLAMAS:
        for gemma, gemma_version, gemma_size in GEMMAS:
            common = dict(llama=llama, gemma=gemma, llama_version=llama_version, llama_size_b=llama_size,
                          gemma_version=gemma_version, gemma_size_b=gemma_size)
            rows.append(dict(common, word="Freedom", mwlr=float(rng.uniform(0.2, 1.0)), rank=1))
            rows.append(dict(common, word="Love", mwlr=float(rng.uniform(-1.0, -0.2)), rank=85524))
    return pd.DataFrame(rows)


def recovery_figA3a() -> pd.DataFrame:
    return pd.DataFrame(
        [dict(measure=m, template=t, n_in_top10=n)
         for m, counts in (("LLR", (2, 0)), ("MWLR", (10, 10)), ("p2LR", (10, 9)))
         for t, n in zip(("with template", "without template"), counts)]
    )


def word_scores_figA3b() -> pd.DataFrame:
    return pd.DataFrame(dict(word=["respect", "duty", "love", "the"], mwlr=[0.3, 0.1, 0.0, -0.01],
                             boosted=[True, True, False, False]))


def checkpoint_ranks_fig4a() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = [dict(base_model=b, step=s, category=c, median_rank=float(rng.uniform(400, 800)))
            for b in ("Gemma", "Llama", "Qwen") for s in (1000, 2000, 3000) for c in ("Agency", "Communion")]
    return pd.DataFrame(rows)


def final_ranks_fig4b() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    runs = [("Unified-Feedback", 13), ("Unified-Feedback", 106), ("Skywork", 77), ("GRM", 632)]
    rows = [dict(base_model=b, data_source=src, data_size_k=k, category=c, median_rank=float(rng.uniform(400, 800)))
            for src, k in runs for b in ("Gemma", "Llama") for c in ("Agency", "Communion")]
    return pd.DataFrame(rows)


def rank_changes_fig5() -> pd.DataFrame:
    first = np.arange(1, 13)
    final = np.array([12, 3, 1, 9, 5, 7, 2, 11, 4, 10, 6, 8])
    return pd.DataFrame(dict(token=[f"word{i}" for i in range(12)], category=["Agency", "Communion"] * 6,
                             rank_first=first, rank_final=final, rank_change=first - final))


def trajectories_figA7() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trajectories, changes) of two runs: 12 tokens each ranked at steps 1000, 2000, 3000."""
    changes = pd.concat([rank_changes_fig5().assign(run=run) for run in ("run-l", "run-g")], ignore_index=True)
    middle = (changes["rank_first"] + changes["rank_final"]) / 2
    trajectories = pd.concat(
        [changes.assign(step=step, rank=ranks)[["run", "token", "category", "step", "rank"]]
         for step, ranks in ((1000, changes["rank_first"]), (2000, middle), (3000, changes["rank_final"]))],
        ignore_index=True,
    )
    return trajectories, changes


def kendall_figG1() -> pd.DataFrame:
    return pd.DataFrame(dict(base_model=["Gemma"] * 3 + ["Llama"] * 3, step=[1000, 2000, 3000] * 2,
                             tau_previous=[np.nan, 0.8, 0.9] * 2, tau_final=[0.5, 0.7, 1.0] * 2))


# name -> (function, input frames, options, {frame index: a column the brief requires in it})
CASES = {
    "rank_violins_rm": (plot_rank_violins, [median_ranks_fig1(), panel_tests_fig1()], {"points": "rm"},
                        {0: "median_rank", 1: "stars"}),
    "rank_violins_rm_prompt": (plot_rank_violins, [median_ranks_fig1(), panel_tests_fig1()],
                               {"points": "rm_prompt"}, {0: "framing", 1: "star_p"}),
    "rank_violins_combined": (plot_rank_violins, [median_ranks_fig1().assign(n_ranked=120), panel_tests_fig1()],
                              {"configured": configured_ranks_fig1()}, {0: "n_ranked", 1: "stars"}),
    "rm_profiles": (plot_rm_profiles, [profiles_rm()], {}, {0: "rank_fraction"}),
    "split_violins": (plot_split_violins, [median_ranks_fig2(), cell_tests_fig2()], {},
                      {0: "framing", 1: "stars"}),
    "lollipop": (plot_lollipop, [mwlr_fig3()], {}, {0: "gemma_size_b"}),
    "authority_recovery": (plot_authority_recovery, [recovery_figA3a()], {}, {0: "n_in_top10"}),
    "authority_words": (plot_authority_words, [word_scores_figA3b()], {}, {0: "boosted"}),
    "checkpoint_ranks": (plot_checkpoint_ranks, [checkpoint_ranks_fig4a()], {}, {0: "step"}),
    "ablations": (plot_ablations, [final_ranks_fig4b()], {"caption_note": "uf_13 and uf_27 byte-identical"},
                  {0: "data_size_k"}),
    "rank_changes": (plot_rank_changes, [rank_changes_fig5()], {"n_tokens": 3}, {0: "rank_change"}),
    "rank_trajectories": (plot_rank_trajectories, [*trajectories_figA7(), {"fig5_llama": "run-l", "fig5_gemma": "run-g"}],
                          {"n_tokens": 2}, {0: "rank"}),
    "kendall": (plot_kendall, [kendall_figG1()], {"width": 4.0, "height": 2.0}, {0: "tau_final"}),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, tuple[ggplot, Path]]:
    """Render every case once: name -> (returned ggplot, its output folder)."""
    results = {}
    for name, (function, frames, options, _) in CASES.items():
        folder = tmp_path_factory.mktemp(name)
        results[name] = (function(*frames, folder / "fig.pdf", folder / "fig.png", **options), folder)
    return results


@pytest.mark.parametrize("name", list(CASES))
def test_writes_pdf_and_png_and_nothing_else(rendered, name):
    plot, folder = rendered[name]
    assert isinstance(plot, ggplot)
    assert sorted(p.name for p in folder.iterdir()) == ["fig.pdf", "fig.png"]
    png = (folder / "fig.png").read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 5_000
    assert (folder / "fig.pdf").read_bytes().startswith(b"%PDF")


def test_png_is_150_dpi(rendered):
    _, folder = rendered["kendall"]
    width_px, height_px = struct.unpack(">II", (folder / "fig.png").read_bytes()[16:24])
    assert (width_px, height_px) == (4.0 * 150, 2.0 * 150)


@pytest.mark.parametrize("name", list(CASES))
def test_missing_column_names_it_and_writes_nothing(tmp_path, name):
    function, frames, options, required = CASES[name]
    for index, column in required.items():
        broken = [frame.drop(columns=column) if i == index else frame for i, frame in enumerate(frames)]
        with pytest.raises(InputError, match=column):
            function(*broken, tmp_path / "fig.pdf", tmp_path / "fig.png", **options)
    assert list(tmp_path.iterdir()) == []


def test_empty_frame_is_rejected(tmp_path):
    with pytest.raises(InputError, match="no rows"):
        plot_kendall(kendall_figG1().iloc[0:0], tmp_path / "k.pdf", tmp_path / "k.png")


@pytest.mark.parametrize("name", ["rank_violins_rm", "split_violins", "checkpoint_ranks", "ablations"])
def test_rank_axes_are_reversed_and_say_so(rendered, name):
    plot, _ = rendered[name]
    assert any(isinstance(scale, scale_y_reverse) for scale in plot.scales)
    assert "best at top" in plot.labels.y and "1 = best" in plot.labels.y


def _layer_geoms(plot: ggplot, geom_type: type) -> list:
    """The geoms of ``plot``'s layers of type ``geom_type``; each has its own ``data`` (None = the plot's)."""
    return [layer.geom for layer in plot.layers if isinstance(layer.geom, geom_type)]


def test_rank_violin_stars_sit_above_every_observation_of_their_row(rendered):
    plot, _ = rendered["rank_violins_rm"]
    ranks = median_ranks_fig1()
    (stars,) = _layer_geoms(plot, geom_text)
    assert len(stars.data) == len(panel_tests_fig1())
    for _, star in stars.data.iterrows():
        best_in_row = ranks.loc[ranks["framing"] == star["framing"], "median_rank"].min()
        assert star["label_y"] < best_in_row  # smaller rank = higher on the reversed axis
        expected = panel_tests_fig1().set_index(["category", "framing"]).loc[(star["category"], star["framing"]), "stars"]
        assert star["stars"] == expected
    assert "*** < .001" in plot.labels.caption


def _unwrapped(text: str) -> str:
    return " ".join(text.split("\n"))


def test_rank_violin_subtitle_names_the_test_behind_the_stars_and_the_rms_per_family(rendered, tmp_path):
    plot, _ = rendered["rank_violins_rm"]
    assert _unwrapped(plot.labels.subtitle) == (
        "stars: permutation Welch t over (RM, prompt) observations, Bonferroni; 2 Gemma and 2 Llama RMs"
    )
    rm_level = panel_tests_fig1().assign(star_p="rm_level exact (holm)")
    plot = plot_rank_violins(median_ranks_fig1(), rm_level, tmp_path / "f.pdf", tmp_path / "f.png")
    assert _unwrapped(plot.labels.subtitle) == "stars: exact permutation over RM labels, Holm; 2 Gemma and 2 Llama RMs"
    assert max(len(line) for line in plot.labels.subtitle.split("\n")) <= (4.0 - 0.6) * 14  # wrapped to the panels of the 4-inch figure


def test_rank_violin_rm_points_are_per_rm_mean_and_se(rendered):
    plot, _ = rendered["rank_violins_rm"]
    ranks = median_ranks_fig1()
    per_rm = next(geom for geom in _layer_geoms(plot, geom_pointrange) if geom.data is not None and "rm" in geom.data)
    assert len(per_rm.data) == 4 * 2 * 2  # RMs x framings x categories
    cell = ranks[(ranks["rm"] == "R-Gem-2B") & (ranks["framing"] == "negative") & (ranks["category"] == "Agency")]
    values = cell["median_rank"].to_numpy()
    row = per_rm.data[(per_rm.data["rm"] == "R-Gem-2B") & (per_rm.data["framing"] == "negative")
                      & (per_rm.data["category"] == "Agency")].iloc[0]
    assert row["mean"] == pytest.approx(values.mean())
    assert row["high"] - row["mean"] == pytest.approx(values.std(ddof=1) / np.sqrt(len(values)))


def test_split_violins_put_first_model_left_and_second_right(rendered):
    plot, _ = rendered["split_violins"]
    left, right = _layer_geoms(plot, geom_violin)
    assert left.params["style"] == "left" and set(left.data["model"]) == {"gemma-2-2b-it"}
    assert right.params["style"] == "right" and set(right.data["model"]) == {"Llama-3.2-3B-Instruct"}


def test_split_violins_need_exactly_two_models(tmp_path):
    three = pd.concat([median_ranks_fig2(), median_ranks_fig2().assign(model="qwen-2.5-3b")])
    with pytest.raises(InputError, match="two models"):
        plot_split_violins(three, cell_tests_fig2(), tmp_path / "f.pdf", tmp_path / "f.png")
    assert list(tmp_path.iterdir()) == []


def test_lollipop_rows_sorted_by_version_then_size_first_at_top(rendered):
    plot, _ = rendered["lollipop"]
    pairs = sorted(((llama, gemma) for llama in LLAMAS for gemma in GEMMAS),
                   key=lambda pair: (pair[0][1], pair[0][2], pair[1][1], pair[1][2]))
    expected = [f"{llama[0]} vs {gemma[0]}" for llama, gemma in pairs]
    # a categorical y axis draws its first level at the bottom, so the top row is the last level
    assert list(plot.data["pair"].cat.categories)[::-1] == expected
    assert expected[0] == "Llama-3-8B vs gemma-2-2b"


def test_rank_changes_show_the_biggest_risers_and_fallers(rendered):
    plot, _ = rendered["rank_changes"]
    changes = rank_changes_fig5()
    by_change = sorted(zip(changes["rank_change"], changes["token"]), reverse=True)
    expected = {token for _, token in by_change[:3] + by_change[-3:]}
    assert set(plot.data["token"]) == expected
    top_label = list(plot.data["label"].cat.categories)[-1]
    assert top_label.startswith(by_change[0][1] + " (")


def test_rank_trajectories_follow_the_tokens_of_the_rank_change_figure(rendered):
    plot, _ = rendered["rank_trajectories"]
    # the 2 tokens that rose most and the 2 that fell most, in each run
    shown = shown_rank_changes(rank_changes_fig5(), 2)["token"].tolist()
    assert len(shown) == 4
    assert set(plot.data["token"]) == set(shown)
    assert len(plot.data) == 2 * 4 * 3  # runs x tokens x checkpoints
    assert list(plot.data["panel"].cat.categories) == ["fig5_llama: run-l", "fig5_gemma: run-g"]


def test_rank_changes_reject_duplicate_tokens(tmp_path):
    doubled = pd.concat([rank_changes_fig5(), rank_changes_fig5().head(1)])
    with pytest.raises(InputError, match="word0"):
        plot_rank_changes(doubled, tmp_path / "f.pdf", tmp_path / "f.png")


def test_qwen_is_dropped_unless_asked_for(rendered, tmp_path):
    plot, _ = rendered["checkpoint_ranks"]
    assert set(plot.data["base_model"]) == {"Gemma", "Llama"}
    with_qwen = plot_checkpoint_ranks(
        checkpoint_ranks_fig4a(), tmp_path / "a.pdf", tmp_path / "a.png", include_qwen=True
    )
    assert set(with_qwen.data["base_model"]) == {"Gemma", "Llama", "Qwen"}


def test_ablation_note_is_the_subtitle(rendered, tmp_path):
    plot, _ = rendered["ablations"]
    assert plot.labels.subtitle == "uf_13 and uf_27 byte-identical"
    long_note = "; ".join(f"rank_results_uf_{k}.csv repeats rows 212 times" for k in (13, 27, 54, 100))
    wrapped = plot_ablations(final_ranks_fig4b(), tmp_path / "a.pdf", tmp_path / "a.png",
                                     caption_note=long_note, width=5.0)
    lines = wrapped.labels.subtitle.split("\n")
    assert len(lines) > 1 and " ".join(lines) == long_note


def test_combined_figure_marks_each_configured_rm_per_panel_on_the_published_rank_scale(rendered):
    plot, _ = rendered["rank_violins_combined"]
    (layer,) = [geom for geom in _layer_geoms(plot, geom_point) if geom.mapping.get("shape") == "rm"]
    assert len(layer.data) == 2 * 4  # two configured RMs x four panels
    # 60 terms ranked vs the published 120: ranks doubled onto the published scale
    assert sorted(layer.data.groupby("rm")["median_rank"].first()) == [20.0, 40.0]
    assert "configured RMs" in plot.labels.caption
    assert _unwrapped(plot.labels.subtitle).endswith("; 2 Gemma and 2 Llama RMs; configured: 1 Gemma and 1 Llama RMs")


def test_rank_violins_without_panel_tests_draw_no_stars(tmp_path):
    plot = plot_rank_violins(median_ranks_fig1(), panel_tests_fig1().iloc[0:0], tmp_path / "f.pdf", tmp_path / "f.png")
    assert _layer_geoms(plot, geom_text) == []
    assert "not tested" in plot.labels.caption
    assert _unwrapped(plot.labels.subtitle) == "no stars (panels not tested); 2 Gemma and 2 Llama RMs"


def test_authority_counts_outside_0_to_10_are_rejected(tmp_path):
    bad = recovery_figA3a().assign(n_in_top10=11)
    with pytest.raises(InputError, match="n_in_top10"):
        plot_authority_recovery(bad, tmp_path / "f.pdf", tmp_path / "f.png")


def test_bad_option_leaves_no_output(tmp_path):
    with pytest.raises(InputError, match="points"):
        plot_rank_violins(median_ranks_fig1(), panel_tests_fig1(), tmp_path / "f.pdf", tmp_path / "f.png",
                                  points="every_token")
    assert list(tmp_path.iterdir()) == []


def test_plot_failing_while_drawing_leaves_no_file_or_temp(tmp_path):
    # Words on a continuous reversed axis cannot be drawn: the error comes from plotnine at render time.
    broken = checkpoint_ranks_fig4a().assign(median_rank="not a number")
    with pytest.raises(Exception):
        plot_checkpoint_ranks(broken, tmp_path / "f.pdf", tmp_path / "f.png")
    assert list(tmp_path.iterdir()) == []


def test_base_model_colours_are_the_same_in_every_figure(rendered):
    gemma, llama = BASE_MODEL_COLOURS["Gemma"], BASE_MODEL_COLOURS["Llama"]
    for name, family_by_name in (("split_violins", {"gemma-2-2b-it": gemma, "Llama-3.2-3B-Instruct": llama}),
                                 ("checkpoint_ranks", {"Gemma": gemma, "Llama": llama}),
                                 ("kendall", {"Gemma": gemma, "Llama": llama})):
        plot, _ = rendered[name]
        (colour_scale,) = [s for s in plot.scales if "color" in s.aesthetics]
        palette = colour_scale.palette(len(family_by_name))  # a manual scale returns its value mapping
        assert {k: palette[k] for k in family_by_name} == family_by_name


def test_colour_map_matches_family_substrings_and_gives_others_distinct_colours():
    colours = colour_map(["google/gemma-2-9b-it", "QWEN2.5", "mistral-7b", "phi-3"], BASE_MODEL_COLOURS)
    assert colours["google/gemma-2-9b-it"] == "#DB4437"
    assert colours["QWEN2.5"] == "#7C3AED"
    others = {colours["mistral-7b"], colours["phi-3"]}
    assert len(others) == 2 and not others & set(BASE_MODEL_COLOURS.values())


def test_ablation_figure_of_one_data_size_renders(tmp_path):
    """One training run per base (the real-model world): a single point on the log x axis."""
    one_size = final_ranks_fig4b().assign(data_size_k=0.256)
    plot_ablations(one_size, tmp_path / "a.pdf", tmp_path / "a.png")
    assert (tmp_path / "a.pdf").stat().st_size > 0 and (tmp_path / "a.png").stat().st_size > 0

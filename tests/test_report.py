"""The HTML report (snakemake --report) renders its reStructuredText without a docutils message."""

import re

from workflow_helpers import run_snakemake

DOCUTILS_MESSAGE = re.compile(r"\((?:INFO/1|WARNING/2|ERROR/3|SEVERE/4)\)|System Message")


def docutils_messages(text: str) -> list[str]:
    """Lines of ``text`` that carry a docutils system message (printed while the report builds)."""
    return [line for line in text.splitlines() if DOCUTILS_MESSAGE.search(line)]


def test_report_of_a_statistics_table_renders_without_docutils_messages(workflow_copy, reference_mirror):
    # One statistics table (report category of every statistic) is enough to render the front page,
    # the category links and a caption; a category named like one of Snakemake's own panels
    # ("Statistics") used to duplicate its link target.
    target = "results/stats/fig1_big2_means.csv"
    config = ("--config", f"reference_mirror={reference_mirror}")
    built = run_snakemake(workflow_copy, target, "--cores", "2", *config)
    assert built.returncode == 0, built.stdout[-3000:]
    report = run_snakemake(workflow_copy, target, "--report", "report.html", *config)
    assert report.returncode == 0, report.stdout[-3000:]
    assert docutils_messages(report.stdout) == []
    html = (workflow_copy / "report.html").read_text()
    assert "Statistical tests" in html and "System Message" not in html

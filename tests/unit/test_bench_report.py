"""The benchmarks page: a rewrite of its generated sections keeps every other section."""
from __future__ import annotations

from pathlib import Path

from bench import report


def test_a_rewrite_replaces_the_generated_sections_and_keeps_the_others_in_order(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    results = {"sections": {"jms": {"date": "d", "command": "c", "targets": {}}}}
    report.write(page, results)
    page.write_text(page.read_text() + "\n## SNS (Query protocol over HTTP/1.1)\n\nsns figures\n"
                    "\n## A pass written by hand\n\nanalysis\n### with a subsection\n\nmore\n"
                    "\n## JMS (OpenWire): CPU per message\n\nnot the generated JMS section\n")
    report.write(page, {"sections": {"jms": {"date": "later", "command": "c2", "targets": {}}}})
    text = page.read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## JMS (OpenWire)", "## How it is measured", "## Raw results",
                        "## SNS (Query protocol over HTTP/1.1)", "## A pass written by hand",
                        "## JMS (OpenWire): CPU per message"]
    assert "later" in text and "- Date: d\n" not in text
    assert "analysis\n### with a subsection\n\nmore\n" in text
    assert report.load_previous(page)["sections"]["jms"]["command"] == "c2"


def test_the_goals_compare_with_the_best_peer_or_a_floor() -> None:
    assert report.Goal("≥ 1.5× best peer", "best", 1.5).met(3.0, {"activemq": 1.0, "rabbitmq": 2.0})
    assert not report.Goal("≥ 1.5× best peer", "best", 1.5).met(2.9, {"activemq": 1.0, "rabbitmq": 2.0})
    assert report.Goal("≥ 15,000 msg/s", floor=15_000).met(15_000, {})
    assert not report.Goal("≥ 15,000 msg/s", floor=15_000).met(14_999, {})

"""The benchmarks' SVG charts (tests/bench/charts.py) on small fixed results."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.bench.charts import localize_svg, minibugs_svg

SVG = "{http://www.w3.org/2000/svg}"
MINIBUGS = [
    {"model": "m-1.5b.gguf", "task": "median-even-length", "resolved": True, "wall_s": 21.0},
    {"model": "m-1.5b.gguf", "task": "slugify <double> & dash", "resolved": True, "wall_s": 84.0},
    {"model": "m-1.5b.gguf", "task": "paginate-last-page", "resolved": False, "wall_s": 350.0},
    {"model": "m-0.5b.gguf", "task": "median-even-length", "resolved": True, "wall_s": 13.0},
    {"model": "m-0.5b.gguf", "task": "slugify <double> & dash", "resolved": False, "wall_s": 303.0},
]


def bars(svg: str) -> list[dict[str, str]]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return [dict(rect.attrib) for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]


def test_minibugs_chart_has_one_bar_per_task_and_model_scaled_by_wall_time() -> None:
    svg = minibugs_svg(MINIBUGS)
    found = bars(svg)  # parses: the task name's <, > and & are escaped
    assert [(b["data-task"], b["data-model"]) for b in found] == [
        ("median-even-length", "m-1.5b.gguf"),
        ("median-even-length", "m-0.5b.gguf"),
        ("slugify <double> & dash", "m-1.5b.gguf"),
        ("slugify <double> & dash", "m-0.5b.gguf"),
        ("paginate-last-page", "m-1.5b.gguf"),  # the 0.5B has no row for it: no bar
    ]
    widths = {(b["data-task"], b["data-model"]): float(b["width"]) for b in found}
    assert widths[("paginate-last-page", "m-1.5b.gguf")] == max(widths.values())
    ratio = widths[("median-even-length", "m-1.5b.gguf")] / widths[("paginate-last-page", "m-1.5b.gguf")]
    assert abs(ratio - 21 / 350) < 0.01
    fills = {b["data-resolved"]: b["fill"] for b in found}
    assert len(fills) == 2 and fills["True"] != fills["False"]
    assert "m-1.5b.gguf, resolved 2/3" in svg and "m-0.5b.gguf, resolved 1/2" in svg


def test_minibugs_chart_names_variants_when_there_are_several() -> None:
    rows = [{**MINIBUGS[0], "variant": "failing-test"}, {**MINIBUGS[0], "variant": "issue-only"}]
    assert {b["data-model"] for b in bars(minibugs_svg(rows))} == {
        "m-1.5b.gguf [failing-test]",
        "m-1.5b.gguf [issue-only]",
    }


def test_localize_chart_has_a_bar_per_budget_method_and_measure_with_the_recall() -> None:
    rows = [
        {"task": t, "budget": budget, "method": method, "files_ok": ok, "symbols_ok": ok and t == "a"}
        for t in ("a", "b")
        for budget in (8000, 32000)
        for method, ok in (("pack", True), ("bm25-files", budget == 32000 and t == "a"))
    ]
    found = bars(localize_svg(rows))
    assert len(found) == 2 * 2 * 2  # budgets x methods x (files, symbols)
    recall = {
        (int(b["data-budget"]), b["data-method"], b["data-measure"]): float(b["data-recall"]) for b in found
    }
    assert recall[(8000, "pack", "all gold files")] == 1.0
    assert recall[(8000, "pack", "+ gold symbols' code")] == 0.5
    assert recall[(8000, "bm25-files", "all gold files")] == 0.0
    assert recall[(32000, "bm25-files", "all gold files")] == 0.5
    heights = {key: float(b["height"]) for key, b in zip(recall, found, strict=True)}
    assert heights[(8000, "pack", "all gold files")] == 2 * heights[(8000, "pack", "+ gold symbols' code")]


def test_the_command_charts_a_results_file_beside_it(tmp_path: Path) -> None:
    results = tmp_path / "minibugs-results.json"
    results.write_text(json.dumps(MINIBUGS))
    script = Path(__file__).with_name("charts.py")
    done = subprocess.run(
        [sys.executable, str(script), "minibugs", str(results)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    chart = tmp_path / "minibugs-results.svg"
    assert done.stdout.strip() == str(chart) and len(bars(chart.read_text())) == len(MINIBUGS)

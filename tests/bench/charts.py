"""Bar charts of the benchmarks' results as standalone SVG (no plotting library): what
bench_minibugs.py and bench_localize.py write next to their JSON, for the docs to show.

- `minibugs_svg(rows)`: one horizontal bar per task and model, its length the wall time, green when
  the task's own checker says resolved, grey when not; the legend gives each model's resolved count.
- `localize_svg(rows)`: per budget, the share of tasks with every gold file in the pack, and with
  every gold symbol's code in it, for each method.

Every bar is a `<rect class="bar">` with `data-*` attributes naming what it shows, so a chart can be
checked (and scraped) as XML. `python tests/bench/charts.py minibugs|localize RESULTS.json` charts
results written earlier.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif' font-size='12'"
RESOLVED, UNRESOLVED = "#2e9e4f", "#b9bec4"
SERIES = ("#2f6db5", "#9cc3ea", "#d9822b", "#f2c28f", "#6a4c93", "#c4b0e0")


def _text(x: float, y: float, text: str, anchor: str = "start", weight: str = "normal") -> str:
    return (
        f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' font-weight='{weight}' {FONT}>"
        f"{escape(text)}</text>"
    )


def _bar(x: float, y: float, w: float, h: float, fill: str, data: Mapping[str, object]) -> str:
    attrs = " ".join(f"data-{key}={quoteattr(str(value))}" for key, value in data.items())
    tooltip = escape(", ".join(f"{key}: {value}" for key, value in data.items()))
    return (
        f"<rect class='bar' x='{x:.1f}' y='{y:.1f}' width='{max(w, 0.0):.1f}' height='{h:.1f}' "
        f"fill='{fill}' {attrs}><title>{tooltip}</title></rect>"
    )


def _document(width: float, height: float, title: str, parts: Iterable[str]) -> str:
    body = "\n".join(parts)
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width:.0f}' height='{height:.0f}' "
        f"viewBox='0 0 {width:.0f} {height:.0f}'>\n<title>{escape(title)}</title>\n"
        f"<rect width='100%' height='100%' fill='white'/>\n"
        f"{_text(12, 22, title, weight='bold')}\n{body}\n</svg>\n"
    )


def _series_name(row: Mapping[str, Any], variants: set[str]) -> str:
    model = str(row.get("model", "?"))
    return f"{model} [{row.get('variant')}]" if len(variants) > 1 else model


def minibugs_svg(rows: Sequence[Mapping[str, Any]], title: str = "minibugs: wall time per task") -> str:
    """Rows as bench_minibugs.py writes them (model, task, resolved, wall_s, optional variant)."""
    variants = {str(r.get("variant", "")) for r in rows}
    series = list(dict.fromkeys(_series_name(r, variants) for r in rows))
    tasks = list(dict.fromkeys(str(r["task"]) for r in rows))
    longest = max((float(r.get("wall_s") or 0) for r in rows), default=0.0) or 1.0
    label_w, plot_w, bar_h, gap = 190.0, 460.0, 14.0, 10.0
    group_h = bar_h * len(series) + gap
    top = 40.0 + 18.0 * len(series)
    parts = []
    for i, name in enumerate(series):
        mine = [r for r in rows if _series_name(r, variants) == name]
        done = sum(bool(r.get("resolved")) for r in mine)
        legend = f"bar {i + 1} of each task: {name}, resolved {done}/{len(mine)}"
        parts.append(_text(12, 40 + 18.0 * i, legend))
    for t, task in enumerate(tasks):
        y0 = top + t * group_h
        parts.append(_text(label_w - 8, y0 + bar_h * len(series) / 2 + 4, task, anchor="end"))
        for s, name in enumerate(series):
            row = next(
                (r for r in rows if str(r["task"]) == task and _series_name(r, variants) == name), None
            )
            if row is None:
                continue
            wall = float(row.get("wall_s") or 0)
            fill = RESOLVED if row.get("resolved") else UNRESOLVED
            data = {"task": task, "model": name, "resolved": bool(row.get("resolved")), "wall-s": wall}
            y = y0 + s * bar_h
            parts.append(_bar(label_w, y, plot_w * wall / longest, bar_h - 2, fill, data))
            parts.append(_text(label_w + plot_w * wall / longest + 4, y + bar_h - 4, f"{wall:.0f} s"))
    height = top + group_h * len(tasks) + 24
    parts.append(_text(label_w, height - 8, "green: resolved by the task's checker; grey: not resolved"))
    return _document(label_w + plot_w + 70, height, title, parts)


def localize_svg(rows: Sequence[Mapping[str, Any]], title: str = "localisation: recall per budget") -> str:
    """Rows as bench_localize.py writes them (budget, method, files_ok, symbols_ok)."""
    budgets = sorted({int(r["budget"]) for r in rows})
    methods = list(dict.fromkeys(str(r["method"]) for r in rows))
    measures = (("files_ok", "all gold files"), ("symbols_ok", "+ gold symbols' code"))
    bars = [(m, key, label) for m in methods for key, label in measures]
    bar_w, gap, plot_h, left, top = 22.0, 26.0, 220.0, 50.0, 40.0 + 18.0 * len(bars)
    parts = [_text(12, 40 + 18.0 * i, f"bar {i + 1}: {m}, {label}") for i, (m, _, label) in enumerate(bars)]
    for pct in (0, 50, 100):
        y = top + plot_h * (1 - pct / 100)
        parts.append(f"<line x1='{left}' x2='{left + 8}' y1='{y:.1f}' y2='{y:.1f}' stroke='#555'/>")
        parts.append(_text(left - 4, y + 4, f"{pct}%", anchor="end"))
    for b, budget in enumerate(budgets):
        x0 = left + 12 + b * (bar_w * len(bars) + gap)
        for i, (method, key, label) in enumerate(bars):
            sel = [r for r in rows if int(r["budget"]) == budget and r["method"] == method]
            share = sum(bool(r[key]) for r in sel) / len(sel) if sel else 0.0
            h = plot_h * share
            data = {"budget": budget, "method": method, "measure": label, "recall": f"{share:.3f}"}
            parts.append(_bar(x0 + i * bar_w, top + plot_h - h, bar_w - 3, h, SERIES[i % len(SERIES)], data))
        middle = x0 + bar_w * len(bars) / 2
        parts.append(_text(middle, top + plot_h + 16, f"{budget // 1000}K tokens", anchor="middle"))
    width = left + 12 + len(budgets) * (bar_w * len(bars) + gap) + 20
    return _document(max(width, 420.0), top + plot_h + 30, title, parts)


def write_chart(results: Path, kind: str) -> Path:
    """The chart of a results JSON file (a list of rows), written beside it with the suffix .svg."""
    rows = json.loads(results.read_text())
    svg = minibugs_svg(rows) if kind == "minibugs" else localize_svg(rows)
    out = results.with_suffix(".svg")
    out.write_text(svg, encoding="utf-8")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="Chart a benchmark's JSON results (written beside them).")
    parser.add_argument("kind", choices=["minibugs", "localize"])
    parser.add_argument("results", type=Path, help="bench_minibugs.py's or bench_localize.py's --json file")
    args = parser.parse_args()
    print(write_chart(args.results, args.kind))
    return 0


if __name__ == "__main__":
    sys.exit(main())

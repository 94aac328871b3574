"""Render the TUI screenshot the README shows (docs/tui.png, and docs/tui.svg beside it).

    python docs/make_screenshot.py            # from the repository root, in the dev environment

It builds the app as the TUI tests do (tests/tui/: `make_app` with the scripted engine on a temporary
git repository with the median bug), types the task and waits for the run's report: a real run of
the real app, its commands in the real bubblewrap sandbox (only the model's replies are scripted).
Textual writes the screen as SVG; `rsvg-convert` (librsvg, `apt-get install librsvg2-bin`) or, when
it is missing, `cairosvg` (pip) turns it into a PNG.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: the repository's packages and tests importable
    sys.path.insert(0, str(ROOT))

from agent.tui.app import AgentApp  # noqa: E402
from agent.tui.prompt import PromptInput  # noqa: E402
from tests.repos import median_repo  # noqa: E402
from tests.tui_support import make_app, scripted, type_text, wait_for  # noqa: E402

TASK = "median of an even length list is wrong"


async def screen_svg(work: Path, size: tuple[int, int]) -> str:
    """The conversation screen once the scripted run has ended, as Textual's SVG export."""
    app: AgentApp = make_app(median_repo(work / "repo"), scripted())
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.engine is not None)
        await type_text(pilot, TASK)
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.last_report is not None, timeout=120)
        app.query_one(PromptInput).cursor_blink = False
        await pilot.pause(0.5)
        return app.export_screenshot(title="local-agent")


def to_png(svg: Path, png: Path, width: int) -> None:
    """SVG to PNG with librsvg's command, else cairosvg; a clear error when neither is there."""
    if shutil.which("rsvg-convert"):
        subprocess.run(["rsvg-convert", "--width", str(width), "-o", str(png), str(svg)], check=True)
        return
    try:
        import cairosvg
    except ImportError:
        raise SystemExit(
            f"wrote {svg}, but no SVG renderer to make the PNG: "
            "install librsvg2-bin (rsvg-convert) or `pip install cairosvg`"
        ) from None
    cairosvg.svg2png(url=str(svg), write_to=str(png), output_width=width)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "tui.png", help="the PNG to write")
    parser.add_argument("--columns", type=int, default=140, help="terminal width in cells")
    parser.add_argument("--rows", type=int, default=32, help="terminal height in cells")
    parser.add_argument("--width", type=int, default=1600, help="PNG width in pixels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        svg_text = asyncio.run(screen_svg(Path(tmp), (args.columns, args.rows)))
    svg = args.out.with_suffix(".svg")
    svg.write_text(svg_text, encoding="utf-8")
    to_png(svg, args.out, args.width)
    print(f"wrote {svg} and {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`agent events --schema`: the JSON Schema of one line of the `--json` event stream (and of the
trajectory files), generated from the pydantic event models. docs/events.schema.json is its
output, checked in; a test fails when the two differ. The contract is described in docs/events.md."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Annotated, Any, Union, get_args

from pydantic import Field, TypeAdapter

from agent.events import LIVE_ONLY_EVENTS, SCHEMA_VERSION, RunEvent
from agent.run.report import RunReport


def streamed_event_types() -> list[type[Any]]:
    """The run event models that appear on the stream (live-only ones never do)."""
    union = get_args(RunEvent)[0]
    return [model for model in get_args(union) if model not in LIVE_ONLY_EVENTS]


def events_schema() -> dict[str, Any]:
    """One event line; `run_finished`'s `report` described by the report's own model."""
    streamed: Any = Annotated[Union[tuple(streamed_event_types())], Field(discriminator="kind")]  # noqa: UP007
    schema = TypeAdapter[Any](streamed).json_schema(mode="serialization")
    report = RunReport.model_json_schema(mode="serialization", ref_template="#/$defs/{model}")
    schema["$defs"].update(report.pop("$defs", {}))
    schema["$defs"]["RunReport"] = report
    finished = schema["$defs"]["RunFinished"]["properties"]
    finished["report"] = {"$ref": "#/$defs/RunReport", "description": "the run's report"}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "local-agent run event",
        "description": (
            "One line of `agent fix --json` (and of a trajectory file): a run event, told apart by "
            "`kind`. The last line of the stream is always `run_finished`. See docs/events.md."
        ),
        "x-schema-version": SCHEMA_VERSION,
        **schema,
    }


def schema_text() -> str:
    return json.dumps(events_schema(), indent=2, ensure_ascii=False) + "\n"


def add_events_parser(sub: Any) -> None:
    events = sub.add_parser("events", help="describe the --json event stream")
    events.add_argument(
        "--schema",
        action="store_true",
        help="print the JSON Schema of one event line (as in docs/events.schema.json)",
    )


def cmd_events(args: argparse.Namespace) -> int:
    if args.schema:
        sys.stdout.write(schema_text())
    else:
        print(f"event schema version {SCHEMA_VERSION}; `agent events --schema` prints its JSON Schema")
    return 0

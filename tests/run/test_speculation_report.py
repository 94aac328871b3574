"""Speculative decoding's acceptance in the usage events, the JSON and text reports and the status bar."""

from __future__ import annotations

import json

from agent.events import Usage, UsageEvent
from agent.run.report import RunReport, render_text, report_dict
from agent.tui.status import Status, drafts


def test_acceptance_is_reported_in_usage_and_the_json_report() -> None:
    usage = Usage(generated_tokens=100, decode_seconds=2.0, drafted_tokens=80, accepted_tokens=60)
    total = usage.add(Usage(drafted_tokens=20, accepted_tokens=0))
    assert (total.drafted_tokens, total.accepted_tokens, total.acceptance_rate) == (100, 60, 0.6)
    report = report_dict(
        RunReport(session_id="s", task="t", status="resolved", stop_reason="done", usage=total)
    )
    assert report["usage"]["drafted_tokens"] == 100
    assert report["usage"]["accepted_tokens"] == 60
    assert report["usage"]["acceptance_rate"] == 0.6
    event = json.loads(UsageEvent(usage=usage).model_dump_json())
    assert event["usage"]["acceptance_rate"] == 0.75


def test_the_text_report_and_the_status_bar_say_how_many_drafts_were_kept() -> None:
    usage = Usage(generated_tokens=100, decode_seconds=2.0, drafted_tokens=80, accepted_tokens=60)
    report = RunReport(session_id="s", task="t", status="resolved", stop_reason="done", usage=usage)
    assert render_text(report).count("60 of 80 drafted kept (75%)") == 1  # once, on the tokens line
    assert drafts(Status(tokens_per_second=31.24, drafted=80, accepted=60)) == "31.2 tok/s (draft 75%)"
    assert drafts(Status(tokens_per_second=12.0)) == "12.0 tok/s"  # nothing drafted: as before

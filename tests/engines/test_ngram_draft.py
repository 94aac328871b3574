"""Prompt-lookup drafts (agent/engines/ngram_draft.py): what followed an earlier place matching the tail."""

from __future__ import annotations

from agent.engines.ngram_draft import NgramSettings, PromptLookup, best_size

SETTINGS = NgramSettings(min_match=3, max_draft=16, growth=1.0, batch_cost=0.0)  # sized by the match only


def test_a_tail_seen_before_drafts_what_followed_it() -> None:
    lookup = PromptLookup(SETTINGS, [1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 1, 2, 3])
    assert lookup.draft(16) == [4]  # a match of exactly min_match tokens earns one token


def test_a_longer_match_earns_a_longer_draft() -> None:
    old = list(range(100, 140))
    lookup = PromptLookup(SETTINGS, [*old, 7, *old[:20]])
    assert lookup.draft(16) == old[20:36]  # matched 20 tokens: the whole max_draft
    assert lookup.draft(5) == old[20:25]  # never past the caller's limit


def test_growth_scales_the_draft_with_the_match() -> None:
    old = list(range(100, 140))
    lookup = PromptLookup(
        NgramSettings(min_match=2, max_draft=16, growth=0.5, batch_cost=0.0), [*old, 7, *old[:8]]
    )
    assert lookup.draft(16) == old[8:12]  # 1 + (8 - 2) * 0.5


def test_no_earlier_match_no_draft() -> None:
    lookup = PromptLookup(SETTINGS, list(range(50)))
    assert lookup.draft(16) == []
    assert PromptLookup(SETTINGS, [1, 2]).draft(16) == []
    assert PromptLookup(SETTINGS, [1, 2, 3, 1, 2, 3]).draft(0) == []


def test_the_place_that_matches_furthest_back_wins() -> None:
    near = [50, 1, 2, 3, 60]  # the tail's last 3 tokens, but not the 4th
    far = [9, 1, 2, 3, 70]  # all four
    lookup = PromptLookup(SETTINGS, [*far, *near, 9, 1, 2, 3])
    assert lookup.draft(16)[0] == 70


def test_extending_with_kept_tokens_follows_the_copy() -> None:
    old = list(range(200, 260))
    lookup = PromptLookup(SETTINGS, [*old, 1, *old[:3]])
    copied = old[:3]
    while len(copied) < len(old):
        draft = lookup.draft(min(16, len(old) - len(copied)))
        assert draft == old[len(copied) : len(copied) + len(draft)] and draft
        lookup.extend(draft)
        copied += draft
    assert lookup.tokens[-len(old) :] == old


def test_a_changed_token_restarts_the_match() -> None:
    old = list(range(300, 340))
    lookup = PromptLookup(SETTINGS, [*old, 1, *old[:10]])
    lookup.extend([999])  # the model wrote something else here
    assert lookup.draft(16) == []
    lookup.extend(old[11:14])  # and went back to copying after the change
    assert lookup.draft(16) == [old[14]]


def test_refused_drafts_raise_the_match_required_and_kept_ones_lower_it() -> None:
    old = list(range(400, 440))
    lookup = PromptLookup(NgramSettings(min_match=3, max_backoff=2, batch_cost=0.0), [*old, 1, *old[:4]])
    assert lookup.draft(16) == old[4:6]
    lookup.feedback(2, 0)
    lookup.feedback(2, 0)
    lookup.feedback(2, 0)
    assert lookup.required == 5  # raised twice, then capped
    assert lookup.draft(16) == []  # a match of 4 no longer earns a draft
    lookup.extend(old[4:5])
    assert lookup.draft(16) == old[5:8]
    lookup.feedback(2, 2)
    assert lookup.required == 4


def test_the_best_size_grows_with_the_chance_a_draft_is_kept() -> None:
    sizes = [best_size(keep, 0.35, 16) for keep in (0.2, 0.6, 0.9, 0.99)]
    assert sizes[0] == 1 and sizes == sorted(sizes) and sizes[-1] >= 12
    assert best_size(0.99, 0.35, 4) == 4  # never past the most allowed


def test_drafts_shrink_after_refusals() -> None:
    old = list(range(500, 560))
    lookup = PromptLookup(NgramSettings(batch_cost=0.35), [*old, 1, *old[:30]])
    assert 2 <= len(lookup.draft(16)) <= 4  # before any feedback: a 6-in-7 prior
    for _ in range(3):
        lookup.feedback(16, 16)
    assert len(lookup.draft(16)) >= 12
    for _ in range(8):
        lookup.feedback(16, 1)  # kept a token, refused the next: a 1-in-2 chance
    assert 1 <= len(lookup.draft(16)) <= 3

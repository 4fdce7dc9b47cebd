"""Batched upserts in rounds: a target written twice waits for the next round."""

from __future__ import annotations

from connectors.base import Permanent, UpsertItem
from connectors.batching import failed, rounds


def test_a_key_seen_in_a_round_waits_for_the_next() -> None:
    keys = {0: {"C-1", "a@x"}, 1: {"C-2", "b@x"}, 2: {"C-1"}, 3: {"C-3", "a@x"}, 4: {"C-1"}}
    assert list(rounds(keys, lambda i: keys[i])) == [[0, 1], [2, 3], [4]]


def test_items_without_keys_never_wait() -> None:
    assert list(rounds([0, 1, 2], lambda i: set())) == [[0, 1, 2]]
    assert list(rounds([], lambda i: {"x"})) == []


def test_a_failed_call_is_booked_on_its_own_items() -> None:
    items = [UpsertItem("member", None, f"C-{n}", {}, f"k{n}") for n in range(3)]
    error = Permanent("refused", http_status=400)
    results = failed(items, [0, 2], error)
    assert sorted(results) == [0, 2]
    assert all(r.error is error and r.http_status == 400 for r in results.values())
    assert results[2].item is items[2]

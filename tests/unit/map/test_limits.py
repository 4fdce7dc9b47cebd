"""Hostile map files fail `handoff check` fast, with one line naming the rule: too large,
nested too deep, or an alias bomb. Each file is generated here."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from rich.console import Console

from bot.check_command import check_command
from sync_core.map.loader import MAX_DEPTH, MAX_MAP_BYTES, MapError, load_map, load_map_text
from tests.unit.map.maps import GOOD_MAP, line_of

# Generous for a loaded test machine; before the limits these took 45 s and more, or crashed.
FAST = 10.0


def _refused(text: str) -> tuple[str, int, str]:
    started = time.monotonic()
    with pytest.raises(MapError) as caught:
        load_map_text(text, "map.yaml")
    assert time.monotonic() - started < FAST
    (problem,) = caught.value.problems
    return problem.rule, problem.line, problem.message


def _alias_bomb(levels: int = 9) -> str:
    """The "billion laughs": each level lists nine aliases of the one before."""
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        aliases = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit() -> None:
    rule, line, message = _refused(_alias_bomb())
    assert rule == "too-many-values"
    assert "aliases" in message
    assert 1 < line <= 9


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    rule, line, _message = _refused("name: x\nloop: &a [1, *a]\n")
    assert (rule, line) == ("too-many-values", 2)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 20_000])
def test_deep_nesting_is_refused_not_a_recursion_error(depth: int) -> None:
    rule, line, message = _refused("name: x\nsystems: " + "[" * depth + "]" * depth + "\n")
    assert rule == "nesting-too-deep"
    assert line == 2
    assert str(MAX_DEPTH) in message


def test_nesting_at_the_limit_is_fine_for_the_loader() -> None:
    # The shape is wrong for a map, but the depth is allowed: the error is about the shape.
    depth = MAX_DEPTH - 1
    rule, _line, _message = _refused("name: x\nsystems: " + "[" * depth + "]" * depth + "\n")
    assert rule == "invalid-value"


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    filler = "# " + "x" * 98 + "\n"
    path.write_text(GOOD_MAP + filler * (40 * MAX_MAP_BYTES // len(filler)), encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(MapError) as caught:
        load_map(path)
    assert time.monotonic() - started < 1.0
    (problem,) = caught.value.problems
    assert problem.rule == "file-too-large"
    assert f"{MAX_MAP_BYTES:,}" in problem.message


def test_text_over_the_size_limit_is_refused() -> None:
    rule, _line, _message = _refused(GOOD_MAP + "#" * MAX_MAP_BYTES)
    assert rule == "file-too-large"


def test_check_prints_one_line_with_file_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(), encoding="utf-8")
    buffer = io.StringIO()
    code = check_command(
        path, as_json=False, console=Console(file=buffer, width=200, color_system=None)
    )
    out = buffer.getvalue()
    assert code == 1
    assert f"{path}:" in out
    assert "error [too-many-values]" in out
    assert "Traceback" not in out


def test_ordinary_anchors_and_aliases_still_load() -> None:
    text = GOOD_MAP.replace("admins: [U1]", "admins: &people [U1, U2]\nalerts: {mention: *u}")
    text = text.replace("[U1, U2]", "[&u U1, U2]")
    loaded = load_map_text(text, "map.yaml")
    assert loaded.ok
    assert loaded.map.alerts.mention == "U1"


def test_check_refuses_a_constant_expression_over_the_limit_with_its_line() -> None:
    text = GOOD_MAP.replace('Name: "{{ org_name }}"', "Name: \"{{ 'A' * 4000000000 }}\"")
    started = time.monotonic()
    loaded = load_map_text(text, "map.yaml")
    assert time.monotonic() - started < FAST
    (problem,) = loaded.errors
    assert problem.rule == "expression-limit"
    assert problem.line == line_of(text, "4000000000")
    assert "flows[0].fields.Name" in problem.message


def test_check_refuses_constant_loops_nested_past_the_step_budget() -> None:
    loops = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    text = GOOD_MAP.replace('Name: "{{ org_name }}"', f'Name: "{loops}"')
    (problem,) = load_map_text(text, "map.yaml").errors
    assert problem.rule == "expression-limit"
    assert "steps" in problem.message


def test_check_refuses_a_condition_over_the_limit() -> None:
    text = GOOD_MAP.replace("when: \"status == 'won'\"", "when: \"status == 'won' * 10 ** 9\"")
    (problem,) = load_map_text(text, "map.yaml").errors
    assert problem.rule == "expression-limit"
    assert problem.line == line_of(text, "10 ** 9")


# ---- values ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("schedule: every 2m", "schedule: every 99999999999d", "from 1s to 365d"),
        ("schedule: every 2m", "schedule: -60", "from 1s to 365d"),
        ("schedule: every 2m", "schedule: 0", "from 1s to 365d"),
        ("schedule: every 2m", "schedule: .nan", "not a duration"),
        ("admins: [U1]", "admins: [U1]\nalerts:\n  retry: [1m, 0s]", "from 1s to 365d"),
        ("admins: [U1]", "admins: [U1]\nalerts:\n  retry: [-5m]", "not a duration"),
        ("admins: [U1]", "admins: [U1]\nalerts:\n  retry: [-300]", "from 1s to 365d"),
        ("admins: [U1]", "admins: [U1]\nalerts:\n  group_window: 0s", "from 1s to 365d"),
        ("admins: [U1]", "admins: [U1]\nalerts:\n  group_threshold: 0", "greater than"),
        ("  - id: 1\n", "  - id: 1e23\n", "integer"),
        ("  - id: 1\n", "  - id: 1.0e+23\n", "integer"),
        ("  - id: 1\n", "  - id: 100000000000000000000000\n", "less than or equal to 10000"),
        ("  - id: 1\n", "  - id: -1\n", "greater than or equal to 1"),
        ("    parallel_days: 3", "    parallel_days: 99999999999", "less than or equal"),
        ("name: deal-to-contact", 'name: "deal\\0to-contact"', "U+0000"),
        ("name: deal-to-contact", 'name: "deal\\e[31m-to-contact"', "U+001B"),
        ("name: deal-to-contact", 'name: "deal-to-contact\\n"', "U+000A"),
        ("name: deal-to-contact", 'name: "deal\\u202e-to-contact"', "U+202E"),
        ("name: deal-to-contact", 'name: "  "', "empty"),
        ("name: deal-to-contact", f"name: {'x' * 201}", "at most 200"),
        ("name: Test map", 'name: "Test\\0map"', "U+0000"),
        ("admins: [U1]", 'admins: ["U\\x001"]', "U+0000"),
        ("    name: Contacts", '    name: "Con\\x07tacts"', "U+0007"),
        ('Name: "{{ org_name }}"', '"Na\\0me": "{{ org_name }}"', "U+0000"),
        ('Name: "{{ org_name }}"', 'Name: "{{ org_name }}\\0"', "U+0000"),
    ],
)
def test_values_out_of_range_are_refused_with_their_line(old: str, new: str, says: str) -> None:
    assert GOOD_MAP.count(old) == 1
    text = GOOD_MAP.replace(old, new)
    with pytest.raises(MapError) as caught:
        load_map_text(text, "map.yaml")
    (problem,) = caught.value.problems
    assert problem.rule == "invalid-value"
    assert says in problem.message
    assert problem.line == line_of(text, new.strip().splitlines()[-1].strip())


def test_a_control_character_in_a_key_is_not_echoed_raw() -> None:
    text = GOOD_MAP.replace("  crm:\n", '  "c\\e]8;;rm":\n', 1)
    with pytest.raises(MapError) as caught:
        load_map_text(text, "map.yaml")
    assert all("\x1b" not in problem.format("map.yaml") for problem in caught.value.problems)


def test_durations_within_range_still_load() -> None:
    text = GOOD_MAP.replace("schedule: every 2m", "schedule: 365d").replace(
        "admins: [U1]", "admins: [U1]\nalerts:\n  retry: [1s, 30, 1h]\n  escalate_after: null"
    )
    loaded = load_map_text(text, "map.yaml")
    assert loaded.ok
    assert [d.total_seconds() for d in loaded.map.alerts.retry] == [1, 30, 3600]

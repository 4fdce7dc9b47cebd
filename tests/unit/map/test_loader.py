"""The loader: line numbers kept, and every way a file can fail as one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync_core.map.loader import LoadedMap, MapError, load_map, load_map_text
from tests.unit.map.maps import GOOD_MAP, broken, line_of

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "agency.yaml"


def _only_problem(text: str) -> tuple[str, int, str]:
    with pytest.raises(MapError) as caught:
        load_map_text(text, "map.yaml")
    (problem,) = caught.value.problems
    return problem.rule, problem.line, problem.message


def test_the_demo_map_validates_with_no_errors() -> None:
    loaded = load_map(EXAMPLE)
    assert loaded.errors == []
    assert loaded.map.name == "Agency integration"


def test_good_map_loads_with_its_lines() -> None:
    loaded = load_map_text(GOOD_MAP, "map.yaml")
    assert isinstance(loaded, LoadedMap)
    assert loaded.ok
    assert loaded.lines.line_of(("flows", 1, "link_back")) == line_of(GOOD_MAP, "link_back:")
    # A path below a node falls back to the nearest ancestor's line.
    assert loaded.lines.line_of(("flows", 0, "fields", "Name", "deeper")) == line_of(
        GOOD_MAP, 'Name: "{{'
    )
    assert loaded.require_valid() is loaded.map


def test_require_valid_raises_with_the_errors() -> None:
    loaded = load_map_text(broken("to: work.project", "to: work.board"), "map.yaml")
    with pytest.raises(MapError) as caught:
        loaded.require_valid()
    assert "map.yaml:" in str(caught.value)
    assert "[unknown-record-type]" in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MapError) as caught:
        load_map(tmp_path / "nope.yaml")
    assert str(caught.value) == f"{tmp_path / 'nope.yaml'}: error [no-such-file] no such file"


def test_a_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(MapError) as caught:
        load_map(tmp_path)
    assert caught.value.problems[0].rule == "unreadable-file"


@pytest.mark.parametrize("text", ["", "   \n# only a comment\n"])
def test_empty_file(text: str) -> None:
    rule, line, _ = _only_problem(text)
    assert (rule, line) == ("empty-map", 0)


def test_yaml_syntax_error_points_at_its_line() -> None:
    text = broken("    phase: 1\n", "    phase: [1\n")
    rule, line, message = _only_problem(text)
    assert rule == "yaml-syntax"
    # The parser notices on the next line; the message says where the bracket opened.
    opened = line_of(text, "phase: [1")
    assert line == opened + 1
    assert message.endswith(f"while parsing a flow sequence that starts on line {opened}")
    assert _only_problem("name: x\nsystems: a: b\n")[:2] == ("yaml-syntax", 2)


def test_top_level_must_be_a_mapping() -> None:
    assert _only_problem("- just\n- a list\n")[:2] == ("not-a-map", 1)


def test_unknown_key_points_at_the_key() -> None:
    text = broken("    schedule: every 2m\n", "    schedul: every 2m\n")
    assert _only_problem(text) == (
        "unknown-key",
        line_of(text, "schedul:"),
        "unknown key flows[1].schedul",
    )


def test_missing_key_points_at_its_parent() -> None:
    text = broken("    name: Contacts\n", "")
    rule, line, message = _only_problem(text)
    assert (rule, line) == ("missing-key", line_of(text, "- id: 1"))
    assert message == "phases[0].name is required"


def test_bad_value_points_at_the_value() -> None:
    text = broken("state: parallel", "state: paused")
    rule, line, message = _only_problem(text)
    assert (rule, line) == ("invalid-value", line_of(text, "state: paused"))
    assert "phases[1].state" in message


def test_bad_record_reference_and_duration() -> None:
    text = broken("from: crm.deal\n    to: work", "from: crmdeal\n    to: work")
    rule, line, message = _only_problem(text)
    assert (rule, line) == ("invalid-value", line_of(text, "from: crmdeal"))
    assert "write it as system.record_type" in message
    text = broken("every 2m", "every fortnight")
    rule, line, message = _only_problem(text)
    assert (rule, line) == ("invalid-value", line_of(text, "every fortnight"))
    assert "not a duration" in message


def test_duplicate_keys_are_errors() -> None:
    text = broken('      Name: "{{ org_name }}"\n', '      Name: "{{ org_name }}"\n      Name: x\n')
    assert _only_problem(text)[:2] == ("duplicate-key", line_of(text, "Name: x"))


def test_several_shape_errors_come_back_together_in_line_order() -> None:
    text = broken("state: parallel", "state: paused").replace("schedule:", "schedul:")
    with pytest.raises(MapError) as caught:
        load_map_text(text, "map.yaml")
    lines = [p.line for p in caught.value.problems]
    assert len(lines) == 2 and lines == sorted(lines)
    assert str(caught.value).splitlines()[0].startswith(f"map.yaml:{lines[0]}: error [")


def test_source_of_truth_lines_may_be_short() -> None:
    text = broken("    source_of_truth: books.invoice\n", "    source_of_truth: [books.invoice]\n")
    loaded = load_map_text(text, "map.yaml")
    assert loaded.problems == []
    (line,) = loaded.map.entities["invoice"].source_of_truth
    assert str(line.system) == "books.invoice" and line.fields is None


def test_a_create_only_flow_reports_drift_and_refuses_what_would_update() -> None:
    text = broken("    to: books.contact\n", "    to: books.contact\n    updates: never\n")
    flow = load_map_text(text, "map.yaml").map.flows[0]
    assert (flow.create_only, flow.drift) == (True, "report")
    other = load_map_text(GOOD_MAP, "map.yaml").map.flows[0]
    assert (other.create_only, other.drift) == (False, "revert")

    reverting = broken(
        "    to: books.contact\n", "    to: books.contact\n    updates: never\n    drift: revert\n"
    )
    rule, _line, message = _only_problem(reverting)
    assert rule == "invalid-value" and "drift: revert would update" in message

    unknown = broken("    to: books.contact\n", "    to: books.contact\n    updates: sometimes\n")
    rule, line, message = _only_problem(unknown)
    assert (rule, line) == ("invalid-value", line_of(unknown, "updates: sometimes"))
    assert "'always' or 'never'" in message

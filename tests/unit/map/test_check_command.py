"""`handoff check`: exit codes, problem lines, readable and JSON output."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from bot.check_command import check_command
from tests.unit.map.maps import GOOD_MAP, broken, line_of

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "agency.yaml"


def _run(path: Path, *, as_json: bool = False) -> tuple[int, str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=120, color_system=None)
    code = check_command(path, as_json=as_json, console=console)
    return code, buffer.getvalue()


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "integration.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_map_passes_and_is_drawn() -> None:
    code, out = _run(EXAMPLE)
    assert code == 0
    assert "pipedrive.deal ──▶ xero.contact" in out
    assert "PIPEDRIVE_API_TOKEN" in out
    assert "✓ the map is valid" in out


def test_an_error_prints_file_line_rule_and_fails(tmp_path: Path) -> None:
    text = broken("to: work.project", "to: work.board")
    path = _write(tmp_path, text)
    code, out = _run(path)
    assert code == 1
    expected = f"{path}:{line_of(text, 'to: work.board')}: error [unknown-record-type] "
    assert any(line.startswith(expected) for line in out.splitlines()), out
    assert "✗ 1 error, 0 warnings" in out


def test_warnings_do_not_fail(tmp_path: Path) -> None:
    text = broken(
        "    manual_step: Someone types it in.\n",
        "    manual_step: Someone types it in.\n  - id: 3\n    name: Later\n",
    )
    code, out = _run(_write(tmp_path, text))
    assert code == 0
    assert "warning [empty-phase]" in out
    assert "valid, with 0 errors, 1 warning" in out


def test_a_map_that_does_not_load_fails_with_one_line(tmp_path: Path) -> None:
    code, out = _run(tmp_path / "missing.yaml")
    assert code == 1
    assert f"{tmp_path / 'missing.yaml'}: error [no-such-file] no such file" in out


def test_json_output_is_the_summary_plus_problems(tmp_path: Path) -> None:
    text = broken('"env:CRM_TOKEN"', '"pd-123-secret"')
    path = _write(tmp_path, text)
    code, out = _run(path, as_json=True)
    assert code == 1
    document = json.loads(out)
    assert document["ok"] is False
    assert document["summary"]["flows"][0]["drawn"] == "crm.deal ──▶ books.contact"
    assert document["problems"] == [
        {
            "file": str(path),
            "severity": "error",
            "rule": "inline-credential",
            "message": document["problems"][0]["message"],
            "path": "systems.crm.auth.api_token",
            "line": line_of(text, "api_token"),
        }
    ]
    assert document["summary"]["problems"] == [
        {k: v for k, v in document["problems"][0].items() if k != "file"}
    ]
    assert "pd-123-secret" not in out


def test_json_output_of_a_good_map(tmp_path: Path) -> None:
    code, out = _run(_write(tmp_path, GOOD_MAP), as_json=True)
    assert code == 0
    document = json.loads(out)
    assert document["ok"] is True and document["problems"] == []
    assert document["summary"]["name"] == "Test map"


def test_json_output_when_the_map_does_not_load(tmp_path: Path) -> None:
    code, out = _run(_write(tmp_path, "name: [unclosed\n"), as_json=True)
    assert code == 1
    document = json.loads(out)
    assert document["summary"] is None
    assert document["problems"][0]["rule"] == "yaml-syntax"

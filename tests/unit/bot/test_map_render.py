"""``handoff map render``: the demo map as a document and a picture."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.map_render import Format, render
from sync_core.map.document import View, build_document
from sync_core.map.loader import load_map, load_map_text
from tests.conftest import REPO_ROOT
from tests.unit.map.maps import GOOD_MAP

DEMO = REPO_ROOT / "examples" / "agency.yaml"
SVG = "{http://www.w3.org/2000/svg}"


def _demo():
    return load_map(DEMO).require_valid()


def _svg_texts(svg: bytes) -> str:
    root = ET.fromstring(svg)
    return "\n".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


def test_the_document_names_every_system_entity_flow_and_phase_of_the_demo() -> None:
    demo = _demo()
    text = render(build_document(demo), Format.MD).decode()
    for name in demo.systems:
        assert f"| {name} |" in text
    for name, entity in demo.entities.items():
        assert f"### {name}" in text
        assert (
            f"`{entity.canonical_id.format}`, minted by `{entity.canonical_id.minted_by}`" in text
        )
        for copy in entity.copies.values():
            assert str(copy.id_field) in text
    for flow in demo.flows:
        assert f"### {flow.name}" in text
        assert flow.when is None or flow.when in text
    for phase in demo.phases:
        assert f"### Phase {phase.id}: {phase.name}" in text
        assert f"**State**: {phase.state.value}" in text
        assert phase.manual_step is not None and phase.manual_step.rstrip(".") in text
    assert "`#integration-alerts`" in text and "`U0ADMIN1`" in text
    # a per-field owner and a lifecycle owner
    assert "`asana.project` owns `due_on`, `start_on`" in text
    assert "until `status == 'won'`" in text


@pytest.mark.parametrize("view", list(View))
def test_the_picture_parses_and_names_every_system(view: View) -> None:
    demo = _demo()
    svg = render(build_document(demo), Format.SVG, view)
    texts = _svg_texts(svg)
    for name in demo.systems:
        assert name in texts
    assert ("Current state" in texts) == (view is not View.TARGET)
    assert ("Target state" in texts) == (view is not View.CURRENT)
    assert "phase live" in texts and "phase parallel" in texts  # the legend


def test_the_picture_draws_each_arrow_with_its_state_and_the_canonical_ids_path() -> None:
    svg = render(build_document(_demo()), Format.SVG, View.TARGET)
    root = ET.fromstring(svg)
    lines = [e for e in root.iter(f"{SVG}line") if "arrow" in (e.get("class") or "")]
    assert sorted(e.get("class") for e in lines) == [
        "arrow one-way live",
        "arrow one-way live",
        "arrow one-way live",
        "arrow one-way live",
        "arrow one-way parallel",
    ]
    texts = _svg_texts(svg)
    assert "won-deal-to-xero-contact · stamps PD-{id}" in texts
    assert "mints client PD-{id} (deal)" in texts


def test_the_current_picture_draws_hand_copying_dashed() -> None:
    svg = render(build_document(_demo()), Format.SVG, View.CURRENT)
    root = ET.fromstring(svg)
    manual = [e for e in root.iter(f"{SVG}line") if "manual" in (e.get("class") or "")]
    assert len(manual) == 1 and manual[0].get("stroke-dasharray")
    assert "Sales by hand: Invoice status" in _svg_texts(svg)


def test_too_many_two_way_arrows_draw_a_warning() -> None:
    two_way = GOOD_MAP + (
        "  - name: both-ways\n    phase: 1\n    between: [crm.deal, books.contact]\n"
        '    fields:\n      "title <-> Name": {conflict: last_write_wins}\n'
    )
    document = build_document(load_map_text(two_way, "map.yaml").map)
    texts = _svg_texts(render(document, Format.SVG, View.TARGET))
    assert "2 of 6 arrows are two-way" in texts
    plain = build_document(load_map_text(GOOD_MAP, "map.yaml").map)
    assert "two-way:" not in _svg_texts(render(plain, Format.SVG, View.TARGET))


def test_map_text_stays_text_in_every_format() -> None:
    hostile = GOOD_MAP.replace("name: Test map", 'name: "<script>x</script> & `co`"')
    document = build_document(load_map_text(hostile, "map.yaml").map)
    svg = render(document, Format.SVG)
    assert b"<script>" not in svg and "<script>x</script>" in _svg_texts(svg)
    assert b"<script>" not in render(document, Format.HTML)
    assert "<script>" not in render(document, Format.MD).decode()


def test_the_png_is_a_png_and_the_svg_is_the_same_every_time() -> None:
    document = build_document(_demo())
    assert render(document, Format.PNG).startswith(b"\x89PNG\r\n\x1a\n")
    assert render(document, Format.SVG) == render(build_document(_demo()), Format.SVG)


def test_the_command_writes_each_format_and_json(tmp_path) -> None:
    runner = CliRunner()
    for fmt in Format:
        target = tmp_path / f"map.{fmt.value}"
        result = runner.invoke(
            app, ["map", "render", str(DEMO), "--format", fmt.value, "-o", str(target)]
        )
        assert result.exit_code == 0, result.output
        assert target.stat().st_size > 500
    ET.fromstring((tmp_path / "map.svg").read_bytes())
    result = runner.invoke(app, ["map", "render", str(DEMO), "--json"])
    assert result.exit_code == 0
    assert [s["name"] for s in json.loads(result.stdout)["systems"]] == [
        "pipedrive",
        "xero",
        "asana",
        "mailchimp",
    ]


def test_a_map_with_errors_is_not_rendered(tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD_MAP.replace("minted_by: crm.deal", "minted_by: crm.nothing"))
    result = CliRunner().invoke(app, ["map", "render", str(bad), "-o", str(tmp_path / "x.md")])
    assert result.exit_code == 2
    assert not (tmp_path / "x.md").exists()


def test_check_names_the_render_command_for_a_valid_map() -> None:
    result = CliRunner().invoke(app, ["check", str(DEMO)])
    assert result.exit_code == 0
    # the hint wraps like any text in a narrow terminal
    assert f"handoff map render {DEMO} --format md|svg|png" in result.stdout.replace("\n", "")


def test_app_home_points_to_map_and_the_console_shows_the_summary() -> None:
    from bot.handlers.home import HomeView
    from bot.handlers.map_picture import MapPicture, summary
    from bot.views.home import home_view
    from bot.views.render import to_message

    home = json.dumps(home_view(HomeView("Agency", [], [], [], 0)))
    assert "/map" in home
    document = build_document(_demo())
    text = summary(document)
    assert (
        "4 systems (pipedrive, xero, asana, mailchimp), 5 flows (4 live, 1 parallel), 4 phases"
        in text
    )
    assert "client: PD-{id} from pipedrive.deal" in text
    shown = json.dumps(to_message(MapPicture("Agency", text, "map.png", b"")))
    assert "4 systems" in shown and "--format png" in shown

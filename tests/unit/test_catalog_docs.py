"""docs/connectors.md lists the fields of every record type exactly as the declarations say."""

from __future__ import annotations

from pathlib import Path

from connectors.catalog_docs import BEGIN, END, fields_markdown, replace_section
from connectors.registry import catalogs

DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"


def test_the_documented_fields_are_the_declared_ones() -> None:
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    assert text[start:end] + "\n" == fields_markdown(), (
        "docs/connectors.md is out of date: python -m connectors.catalog_docs docs/connectors.md"
    )


def test_every_record_type_and_field_is_in_the_generated_list() -> None:
    section = fields_markdown()
    for vendor, catalog in catalogs().items():
        for name, spec in catalog.items():
            heading = f"### `{vendor}.{name}`"
            assert heading in section
            part = section.split(heading, 1)[1].split("### ", 1)[0]
            for field in spec.fields | spec.writable:
                assert f"| `{field}` |" in part, (vendor, name, field)
    assert "| `owner_id` | yes | yes |" in section.split("### `pipedrive.organization`")[1]
    assert "| `ContactGroups` | yes |  |" in section.split("### `xero.contact`")[1]


def test_replacing_the_section_keeps_the_rest_of_the_page() -> None:
    page = f"# Title\n\nintro\n\n{BEGIN}\nold\n{END}\n\n## After\n"
    replaced = replace_section(page, fields_markdown())
    assert replaced.startswith("# Title\n\nintro\n\n" + BEGIN)
    assert replaced.endswith(END + "\n\n## After\n") and "\nold\n" not in replaced
    assert replace_section(replaced, fields_markdown()) == replaced

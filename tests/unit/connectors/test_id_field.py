"""The map's ``id_field`` is parsed once into a typed value every connector receives."""

from __future__ import annotations

import pytest

from connectors.base import IdField, IdFieldKind
from sync_core.map.model import Copy


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        ("ContactNumber", IdFieldKind.PLAIN, "ContactNumber"),
        ("custom_field:Pipedrive deal", IdFieldKind.CUSTOM_FIELD, "Pipedrive deal"),
        # the space after the colon is how people type it; it is not part of the name
        ("custom_field: Pipedrive deal", IdFieldKind.CUSTOM_FIELD, "Pipedrive deal"),
        (" custom_field :  Pipedrive deal ", IdFieldKind.CUSTOM_FIELD, "Pipedrive deal"),
        ("merge_field:HANDOFF", IdFieldKind.MERGE_FIELD, "HANDOFF"),
        ("tag:client", IdFieldKind.TAG, "client"),
    ],
)
def test_parsed_with_the_whitespace_around_the_name_dropped(
    text: str, kind: IdFieldKind, name: str
) -> None:
    parsed = IdField.parse(text)
    assert (parsed.kind, parsed.name) == (kind, name)
    assert IdField.parse(str(parsed)) == parsed  # the stored text round-trips


def test_the_map_model_holds_the_parsed_value() -> None:
    spaced = Copy.model_validate({"id_field": "custom_field: Pipedrive deal"})
    tight = Copy.model_validate({"id_field": "custom_field:Pipedrive deal"})
    assert spaced.id_field == tight.id_field == IdField(IdFieldKind.CUSTOM_FIELD, "Pipedrive deal")
    assert str(spaced.id_field) == "custom_field:Pipedrive deal"


@pytest.mark.parametrize("text", ["custom_field:", "custom_field:   ", "colour:red", "  "])
def test_an_empty_name_or_unknown_kind_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        IdField.parse(text)
    with pytest.raises(ValueError):
        Copy.model_validate({"id_field": text})

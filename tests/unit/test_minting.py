"""Short canonical IDs people can type: minted once, stable, collision-checked, and safe
with two processes minting at once."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime

from sync_core.map.model import Entity
from sync_core.minting import ALPHABET, canonical_id_for, minting_external_id, short_code
from sync_core.store.uow import SqlUnitOfWorkFactory

NOW = datetime(2026, 3, 2, 10, 42, tzinfo=UTC)


def entity(fmt: str) -> Entity:
    return Entity.model_validate(
        {
            "canonical_id": {"minted_by": "pipedrive.deal", "format": fmt},
            "source_of_truth": "pipedrive.deal",
        }
    )


def colliding(external_id: str, attempt: int, length: int) -> str:
    """Every record's first code is the same: the worst luck a hash can have."""
    return "A" * length if attempt == 0 else short_code(external_id, attempt, length)


def test_short_codes_are_typeable_and_the_same_for_the_same_record() -> None:
    code = short_code("42", 0, 4)
    assert len(code) == 4 and set(code) <= set(ALPHABET)
    assert not set(code) & set("ILOU")
    assert short_code("42", 0, 4) == code
    assert short_code("42", 1, 4) != code or short_code("43", 0, 4) != code
    assert len(short_code("42", 0, 7)) == 7


def test_an_id_format_keeps_minting_from_the_record_id(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert canonical_id_for(uow, "client", entity("PD-{id}"), "42", "Acme", NOW) == "PD-42"
        assert uow.entities.get("PD-42") is None  # nothing claimed: the id says it all


def test_a_code_is_claimed_once_and_found_again(uow_factory: SqlUnitOfWorkFactory) -> None:
    client = entity("C-{code}")
    with uow_factory() as uow:
        minted = canonical_id_for(uow, "client", client, "42", "Acme Ltd", NOW)
        uow.commit()
    assert re.fullmatch(r"C-[0-9A-HJKMNP-TV-Z]{4}", minted)
    with uow_factory() as uow:
        assert canonical_id_for(uow, "client", client, "42", "Acme Ltd", NOW) == minted
        row = uow.entities.get(minted)
        assert row is not None and row.display_name == "Acme Ltd"
        assert minting_external_id(uow, client, minted) == "42"
        assert [r.canonical_id for r in uow.entities.search(minted.lower(), 5)] == [minted]


def test_an_existing_id_never_changes_when_the_format_does(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    with uow_factory() as uow:
        canonical_id_for(uow, "client", entity("C-{code}"), "42", "Acme", NOW)
        first = uow.links.by_record("pipedrive", "deal", "42")
        assert first is not None
        assert canonical_id_for(uow, "client", entity("K-{code:6}"), "42", "Acme", NOW) == (
            first.canonical_id
        )
        fresh = canonical_id_for(uow, "client", entity("K-{code:6}"), "43", "Globex", NOW)
        assert re.fullmatch(r"K-\w{6}", fresh)


def test_a_taken_code_moves_on_to_the_next(uow_factory: SqlUnitOfWorkFactory) -> None:
    client = entity("C-{code}")
    with uow_factory() as uow:
        first = canonical_id_for(uow, "client", client, "1", "Acme", NOW, codes=colliding)
        second = canonical_id_for(uow, "client", client, "2", "Globex", NOW, codes=colliding)
        uow.commit()
    assert first == "C-AAAA"
    assert second == f"C-{short_code('2', 1, 4)}"
    with uow_factory() as uow:
        assert minting_external_id(uow, client, first) == "1"
        assert minting_external_id(uow, client, second) == "2"


def test_two_processes_minting_at_once_never_share_a_code(
    uow_factory: SqlUnitOfWorkFactory,
) -> None:
    """The first process holds its fresh claim uncommitted while the second mints a record
    whose first code is the same; the unique key makes the second move on."""
    client = entity("C-{code}")
    claimed = threading.Event()
    results: dict[str, str] = {}
    errors: list[BaseException] = []

    def second() -> None:
        claimed.wait(5)
        try:
            with uow_factory() as uow:
                results["2"] = canonical_id_for(
                    uow, "client", client, "2", "Globex", NOW, codes=colliding
                )
                uow.commit()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    with uow_factory() as uow:
        results["1"] = canonical_id_for(uow, "client", client, "1", "Acme", NOW, codes=colliding)
        claimed.set()
        thread.join(0.5)  # the second process is now waiting on this claim
        uow.commit()
    thread.join(10)
    assert not errors
    assert results["1"] == "C-AAAA"
    assert results["2"] == f"C-{short_code('2', 1, 4)}"

"""Two sides of one entity's records to reconcile, generated: deals in the CRM and customers
typed by hand into accounting, with what makes pairing hard (twins, ties, typos, a common
word, conflicting keys), and linking a record as an earlier match would have."""

from __future__ import annotations

import random
import string
from datetime import datetime

from sync_core.map.model import RecordRef
from sync_core.matching.keys import MatchRecord, match_record
from sync_core.ports import UnitOfWork
from sync_core.store.models import EntityRow, LinkRow

DEAL = RecordRef(system="crm", record_type="deal")
CONTACT = RecordRef(system="books", record_type="contact")


class Sides:
    """Two sides of hand-typed customers: names from a small vocabulary (so exact twins and
    ties), typos and reordered words, a common word ("group") in hundreds of names, emails
    and tax numbers (some conflicting), and a mapped field longer than a block key."""

    def __init__(self, seed: int, deals: int, contacts: int) -> None:
        self.rng = random.Random(seed)
        self.words = [self._word() for _ in range(150)]
        self.ids: set[str] = set()
        self.deals = [self._deal() for _ in range(deals)]
        self.contacts = [self._contact() for _ in range(contacts)]

    def _word(self) -> str:
        return "".join(self.rng.choices(string.ascii_lowercase, k=self.rng.randint(4, 7)))

    def _id(self) -> str:
        while True:  # varying lengths: their text order is not their number order
            found = str(self.rng.randint(1, 10 ** self.rng.randint(2, 6)))
            if found not in self.ids:
                self.ids.add(found)
                return found

    def _deal(self) -> MatchRecord:
        rng = self.rng
        name = " ".join(rng.choices(self.words, k=rng.randint(1, 2)))
        if rng.random() < 0.4:
            name += " Group"
        if rng.random() < 0.5:
            name += " Ltd"
        values: dict[str, str] = {"name": name.title()}
        if rng.random() < 0.4:
            values["email"] = f"ap@{rng.choice(self.words)}.example"
        if rng.random() < 0.2:
            values["tax_number"] = f"GB {rng.randint(1, 300):06d}"
        return match_record(DEAL.system, DEAL.record_type, self._id(), values["name"], values)

    def _contact(self) -> MatchRecord:
        rng = self.rng
        if rng.random() < 0.3:
            twin = self._deal()
            values = {k: str(v) for k, v in twin.raw.items()}
        else:
            values = {k: str(v) for k, v in rng.choice(self.deals).raw.items()}
            name = values["name"]
            change = rng.random()
            if change < 0.3 and len(name) > 4:  # a typo
                at = rng.randrange(len(name) - 1)
                name = name[:at] + name[at + 1] + name[at] + name[at + 2 :]
            elif change < 0.5:
                name = " ".join(reversed(name.split()))
            elif change < 0.6:
                name = name.replace(" Ltd", " Limited")
            values["name"] = name
            if "email" in values and rng.random() < 0.3:
                values["email"] = f"info@{rng.choice(self.words)}.example"
            if "tax_number" in values and rng.random() < 0.2:
                values["tax_number"] = f"GB{rng.randint(1, 300):06d}"
        return match_record(CONTACT.system, CONTACT.record_type, self._id(), values["name"], values)


def link(uow: UnitOfWork, record: MatchRecord, now: datetime) -> None:
    """``record`` linked to a canonical entity of its own."""
    canonical_id = f"PD-{record.external_id}"
    uow.entities.add_new(
        EntityRow(
            canonical_id=canonical_id,
            entity="client",
            display_name=record.display_name or "",
            search_name="",
            minted_by="crm.deal",
            created_at=now,
            updated_at=now,
        )
    )
    uow.flush()
    uow.links.add_new(
        LinkRow(
            canonical_id=canonical_id,
            system=record.system,
            record_type=record.record_type,
            external_id=record.external_id,
            created_at=now,
            updated_at=now,
        )
    )

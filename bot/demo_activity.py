"""Simulated office activity for the demo, so `make run` has something to show.

Every so often a deal is won in the sandbox CRM (phases 1 and 2 carry it to accounting and the
project tool), and accounting raises or settles an invoice for a synced contact (phase 3, in
its parallel period, records what it would write back to the deal).
"""

from __future__ import annotations

import random
import threading
from typing import Any

from rich.console import Console

from connectors.sandboxes import RunningSandbox

EVERY_SECONDS = 20.0


class DemoActivity:
    def __init__(self, sandboxes: dict[str, RunningSandbox], console: Console) -> None:
        self.crm = _sandbox_of(sandboxes, "pipedrive")
        self.accounting = _sandbox_of(sandboxes, "xero")
        self.console = console
        self.rng = random.Random(7)
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    @property
    def possible(self) -> bool:
        return self.crm is not None or self.accounting is not None

    def start(self) -> None:
        if not self.possible:
            return
        self.thread = threading.Thread(target=self._loop, name="demo-activity", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=2)

    def step(self) -> None:
        """One piece of activity: win a deal, or raise or pay an invoice."""
        choice = self.rng.random()
        if choice < 0.5 and self.crm is not None and self._win_deal():
            return
        if self.accounting is not None:
            self._invoice()

    def _loop(self) -> None:
        while not self.stop.wait(EVERY_SECONDS):
            try:
                self.step()
            except Exception as exc:
                self.console.print(f"[dim]demo activity skipped: {exc}[/]")

    def _win_deal(self) -> bool:
        assert self.crm is not None
        deals = [d for d in self.crm.state.items["deal"].values() if d.get("status") == "open"]
        if not deals:
            return False
        deal = self.rng.choice(deals)
        self.crm.win_deal(deal["id"])
        self.console.print(f"[dim]demo: “{deal.get('title')}” was just won in the CRM[/]")
        return True

    def _invoice(self) -> None:
        from connectors.xero.resources import INVOICE

        assert self.accounting is not None
        invoices = [i for i in self.accounting.invoices() if i.get("Status") == "AUTHORISED"]
        if invoices and self.rng.random() < 0.5:
            invoice = self.rng.choice(invoices)
            self.accounting.state.save(
                INVOICE,
                {"InvoiceID": invoice["InvoiceID"], "Status": "PAID"},
                self.accounting.clock.now(),
                create=False,
            )
            self.console.print(f"[dim]demo: invoice {invoice.get('InvoiceNumber')} was paid[/]")
            return
        synced = [c for c in self.accounting.contacts() if c.get("ContactNumber")]
        if not synced:
            return
        contact = self.rng.choice(synced)
        created = self.accounting.add_invoice(
            Contact={"ContactID": contact["ContactID"]},
            Status="AUTHORISED",
            LineItems=[{"Description": "Project work", "Quantity": 1, "UnitAmount": 1500}],
        )
        self.console.print(
            f"[dim]demo: invoice {created.get('InvoiceNumber')} raised for {contact.get('Name')}[/]"
        )


def _sandbox_of(sandboxes: dict[str, RunningSandbox], connector: str) -> Any:
    for running in sandboxes.values():
        if running.connector == connector:
            return running.demo.sandbox
    return None

"""The console twin: slash commands typed, alert buttons pressed by number."""

from __future__ import annotations

import io
import re
import threading

from rich.console import Console

from bot.console.sink import ConsoleTwinSink
from bot.console.twin import ConsoleTwin
from bot.handlers.context import Actor, HandlerContext
from tests.unit.engine.support import TO_XERO, World, agency_map


def twin_world(answers: list[str]) -> tuple[World, ConsoleTwin, io.StringIO]:
    world = World(agency_map())
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    ctx = HandlerContext(world.map, world.uow_factory, world.engine, world.clock)
    replies = iter(answers)
    twin = ConsoleTwin(ctx, console, ask=lambda prompt: next(replies))
    return world, twin, out


def test_slash_commands_render_the_slack_views_as_text() -> None:
    world, twin, out = twin_world([])
    world.add_deal(42, "Acme Ltd")
    world.engine.sync_once()

    twin.handle("/where acme")
    twin.handle("phase status")

    text = out.getvalue()
    assert "Acme Ltd  PD-42 · client" in text
    assert "xero.contact: Acme Ltd (https://go.xero.com/Contacts/View/" in text
    assert "[1] History  [2] Retry failed" in text
    assert "Phase 3: Invoice status back to sales — parallel" in text

    twin.handle("1")
    assert "Audit: PD-42" in out.getvalue()


def test_alert_buttons_are_pressed_by_number() -> None:
    world, twin, out = twin_world(["only a test"])
    world.sink.notify = ConsoleTwinSink(twin).notify  # type: ignore[method-assign]
    world.add_deal(42, "Acme Ltd")
    world.xero.fault("renamed_field", 10, path="contact/")
    world.engine.sync_once()

    assert "[1] Retry  [2] Ignore  [3] History" in out.getvalue()
    twin.handle("2")

    assert "Ignored by console:operator" in out.getvalue()
    (event,) = world.events(TO_XERO)
    assert event.status == "ignored" and event.resolution_note == "only a test"


def test_an_alert_is_printed_once_while_what_it_shows_stays_the_same() -> None:
    world, twin, out = twin_world([])
    world.sink.notify = ConsoleTwinSink(twin).notify  # type: ignore[method-assign]
    world.add_deal(42, "Acme Ltd")
    world.add_deal(43, "Beta GmbH")
    world.xero.fault("renamed_field", 10, path="contact/")
    world.engine.sync_once()

    dead = [e for e in world.events(TO_XERO) if e.status == "dead"]
    assert len(dead) == 2  # two deaths with one cause: one alert, below the group threshold
    assert out.getvalue().count("Sync failure") == 1
    assert re.search(r"\(alert \d+ above now covers 2 events\)", out.getvalue())


def dead_alert_on_screen(answers: list[str]) -> tuple[World, ConsoleTwin, io.StringIO]:
    world, twin, out = twin_world(answers)
    world.sink.notify = ConsoleTwinSink(twin).notify  # type: ignore[method-assign]
    world.add_deal(42, "Acme Ltd")
    world.xero.fault("renamed_field", 1, path="contact/")
    world.engine.sync_once()
    assert "[1] Retry  [2] Ignore  [3] History" in out.getvalue()
    return world, twin, out


def test_ignore_on_an_alert_that_has_recovered_asks_nothing_and_changes_nothing() -> None:
    world, twin, out = dead_alert_on_screen([])  # any question would end the answers
    twin.handle("1")  # Retry: the fault has passed, the event is delivered
    (event,) = world.events(TO_XERO)
    assert event.status == "delivered"

    twin.handle("2")  # the old Ignore button

    assert "already resolved; nothing changed" in out.getvalue()
    assert "event(s) ignored" not in out.getvalue()
    (event,) = world.events(TO_XERO)
    assert event.status == "delivered"


def test_a_command_typed_at_the_reason_prompt_runs_and_ignores_nothing() -> None:
    world, twin, out = dead_alert_on_screen(["/where acme"])

    twin.handle("2")

    assert "Not ignored: '/where acme' is a command, not a reason." in out.getvalue()
    assert "Acme Ltd  PD-42" in out.getvalue()
    (event,) = world.events(TO_XERO)
    assert event.status == "dead"


def test_promotion_asks_for_a_reason_and_an_override() -> None:
    _world, twin, out = twin_world(["sales want it", "y"])

    twin.handle("/phase promote 3")

    assert "gate parallel_period" in out.getvalue()
    assert "moved from parallel to live by console:operator" in out.getvalue()


def test_a_slack_user_who_is_not_admin_is_refused() -> None:
    _world, twin, out = twin_world([])
    twin.ctx = twin.ctx.as_actor(Actor(user_id="U0INTERN"))

    twin.handle("/sync pause " + TO_XERO)

    assert "for the map's admins" in out.getvalue()


def test_quit_and_end_of_input_end_the_loop() -> None:
    _, quitting, _ = twin_world(["quit"])
    assert quitting.run(threading.Event()) is True

    _world, ending, _ = twin_world([])

    def eof(prompt: str) -> str:
        raise EOFError

    ending.ask = eof
    assert ending.run(threading.Event()) is False


def test_faults_are_switched_from_the_console() -> None:
    import io

    from rich.console import Console

    from bot.console.twin import ConsoleTwin
    from connectors.faults import FaultPlan

    plan = FaultPlan()
    out = io.StringIO()
    twin = ConsoleTwin(None, Console(file=out, width=200), faults={"xero": plan})  # type: ignore[arg-type]
    assert twin.handle("fault xero server_error 3")
    assert [(f["kind"], f["times"]) for f in plan.armed()] == [("server_error", 3)]
    twin.handle("fault xero bogus")
    assert "unknown fault 'bogus'" in out.getvalue()
    twin.handle("fault xero clear")
    assert plan.armed() == []
    twin.handle("fault crm server_error")
    assert "Usage: fault SYSTEM KIND" in out.getvalue()


def test_a_probable_duplicate_is_linked_from_the_console() -> None:
    from sync_core.map.model import RecordRef

    world, twin, out = twin_world([])
    world.sink.notify = ConsoleTwinSink(twin).notify  # type: ignore[method-assign]
    world.add_deal(42, "Acme Ltd", status="open")
    world.engine.sync_once()
    world.xero.add("contact", {"Name": "Acme Limited"}, external_id="hand-1")
    world.engine.check_drift(RecordRef(system="xero", record_type="contact"))

    assert "[1] Link  [2] Not a duplicate" in out.getvalue()  # Xero has no merge
    twin.handle("1")

    assert "Linked to PD-42 by console:operator" in out.getvalue()
    assert world.xero.get("contact", "hand-1").fields["ContactNumber"] == "PD-42"

"""The crash test: a backfill through served sandboxes while workers are killed and the
vendors fail, then a clean run, then the books are checked.

Sandboxes come from ``handoff sandbox serve`` (a process); two ``handoff run`` workers and a
``sync --once`` loop share one store; a seeded RNG picks when to SIGKILL which process and which
fault to arm over HTTP. Afterwards faults are switched off, one clean ``sync --once`` runs,
``retry --dead`` requeues what died, one more ``sync --once`` delivers it, and :func:`audit`
counts what was lost, doubled, unfinished, dead without an alert, and credentials lost.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from connectors.clock import SystemClock
from connectors.faults import ALL_FAULTS
from connectors.sandbox_host import SandboxHost
from connectors.sandboxes import sandbox_names
from sync_core.store.db import make_engine
from sync_core.store.models import AlertEventRow, AlertRow, EventRow, EventStatus
from tests.support.served import (
    REPO_ROOT,
    ServedSandboxes,
    handoff_env,
    served_credentials,
    served_map,
)

CANONICAL_FIELD = "Pipedrive deal"  # the demo map's Asana id_field
CLIENT_TIMEOUT = 1.5  # seconds; the read-timeout fault stalls longer than this
# What a process prints when its Xero grant is gone (connectors/xero/auth.py).
# `sync --once` exits 3 when another worker's lease holds due events
HELD_ELSEWHERE = 3
LOCKED_OUT = ("refused the refresh token", "invalid_grant")
UNFINISHED = (EventStatus.PENDING.value, EventStatus.RETRYING.value)


@dataclass
class ChaosConfig:
    workdir: Path
    database_url: str
    records: int = 200
    kills: int = 50
    seed: int = field(default_factory=lambda: random.SystemRandom().randrange(1 << 30))
    kill_gap: tuple[float, float] = (0.3, 1.2)  # seconds between kills
    fault_gap: tuple[float, float] = (0.2, 0.8)
    faults: bool = True
    settle: float = 0.0  # seconds the workers run on after the last kill (a calm baseline)
    clean_timeout: float = 240.0


@dataclass
class ChaosResult:
    seed: int
    kills: int = 0
    records: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    doubled: list[str] = field(default_factory=list)
    unfinished: int = 0
    dead: int = 0
    alerted: int = 0
    unalerted_dead: list[int] = field(default_factory=list)
    credentials_lost: list[str] = field(default_factory=list)
    # the exit code of each command of the clean end run, in order
    clean_exits: list[tuple[str, int]] = field(default_factory=list)
    wall_seconds: float = 0.0

    def figures(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items()))
        return (
            f"seed {self.seed}: kills {self.kills}, records {self.records}, "
            f"lost {len(self.lost)}, doubled {len(self.doubled)}, unfinished {self.unfinished}, "
            f"dead {self.dead}, alerted {self.alerted}, "
            f"credentials lost {len(self.credentials_lost)}, wall {self.wall_seconds:.0f} s"
            f" (faults: {faults or 'none'})"
        )

    def failures(self) -> dict[str, Any]:
        """Each promise broken, with its evidence (empty when the run kept them all)."""
        broken: dict[str, Any] = {}
        if self.lost:
            broken["lost"] = self.lost[:20]
        if self.doubled:
            broken["doubled"] = self.doubled[:20]
        if self.unfinished:
            broken["unfinished events"] = self.unfinished
        if self.unalerted_dead:
            broken["dead events without an alert"] = self.unalerted_dead[:20]
        if self.credentials_lost:
            broken["credentials lost"] = self.credentials_lost[:5]
        # the first clean sync may still book deaths of the chaos; retry and the last may not
        if any(code != 0 for _name, code in self.clean_exits[1:]):
            broken["clean run failed"] = self.clean_exits
        return broken


# -- the world ------------------------------------------------------------------------------


def client_name(index: int) -> str:
    return f"Chaos Client {index:04d}"


def seed_backfill(state: Path, records: int) -> None:
    """The demo seed plus ``records`` won deals, written as the sandboxes' state file."""
    host = SandboxHost(sandbox_names(), SystemClock(), state_file=state)
    crm = host.demos["pipedrive"].sandbox
    for index in range(records):
        org = crm.add_organization(client_name(index))
        email = f"client{index:04d}@chaos.example"
        person = crm.add_person(f"Person {index:04d}", email=email, org_id=org["id"])
        crm.add_deal(
            f"Backfill {index:04d}",
            value=1000 + index,
            currency="GBP",
            status="won",
            org_id=org["id"],
            person_id=person["id"],
        )
    host.save()


def chaos_map(sandboxes: ServedSandboxes, workdir: Path) -> Path:
    path = served_map(
        REPO_ROOT / "examples" / "agency.yaml",
        sandboxes,
        workdir / "chaos.yaml",
        workdir / "xero-token.json",
    )
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["alerts"]["retry"] = ["1s", "2s", "3s"]
    # The demo's twins typed by hand are all accepted automatically: the phases declared live
    # start live once their first-start reconciliation has read them.
    for flow in data["flows"]:
        flow["schedule"] = "every 2s"
    for system in data["systems"].values():
        options = system.setdefault("options", {})
        options["timeout"] = CLIENT_TIMEOUT
        if system["connector"] == "asana":
            options["plan"] = "paid"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


# -- processes ------------------------------------------------------------------------------


class Workers:
    """Two ``handoff run`` workers and a ``sync --once`` loop; any of them can be killed and is
    started again at once."""

    NAMES = ("run-1", "run-2", "sync")

    def __init__(self, env: dict[str, str], map_path: Path, logs: Path) -> None:
        self.env = env
        self.map_path = map_path
        self.logs = logs
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.started: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def command(self, name: str) -> list[str]:
        base = [sys.executable, "-m", "bot.cli"]
        if name == "sync":
            return [*base, "sync", "--once", "-c", str(self.map_path)]
        return [*base, "run", "-c", str(self.map_path)]

    def start(self, name: str) -> None:
        self.started[name] += 1
        log = open(self.logs / f"{name}.{self.started[name]:03d}.log", "wb")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            self.command(name),
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    def start_all(self) -> None:
        with self.lock:
            for name in self.NAMES:
                self.start(name)

    def keep_syncing(self) -> None:
        """Start ``sync --once`` again whenever it finishes by itself."""
        while not self.stopping.wait(0.2):
            with self.lock:
                if self.processes["sync"].poll() is not None:
                    self.start("sync")

    def kill_one(self, rng: random.Random) -> str:
        with self.lock:
            name = rng.choice(self.NAMES)
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait()
            self.start(name)
            return name

    def stop_all(self) -> None:
        """A graceful stop (SIGTERM) as an operator would; SIGKILL only if it hangs."""
        self.stopping.set()
        with self.lock:
            for process in self.processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in self.processes.values():
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))


def arm_faults(
    sandboxes: ServedSandboxes,
    rng: random.Random,
    stop: threading.Event,
    fired: Counter[str],
    gap: tuple[float, float],
) -> None:
    """Arm a random fault on a random vendor now and then until ``stop``."""
    kinds = ["server_error", "rate_limit", "timeout", "reset", "malformed_json", "expired_token"]
    # a read timeout after the vendor executed the write, where the fault plan offers it
    kinds += [k for k in ALL_FAULTS if "after" in k and k not in kinds]
    while not stop.wait(rng.uniform(*gap)):
        vendor = rng.choice(sandbox_names())
        kind = rng.choice(kinds)
        options: dict[str, Any] = {}
        if kind == "server_error":
            options["status"] = 500
        elif kind == "rate_limit":
            options["retry_after"] = 1
        elif kind == "timeout":
            # stall past the client's timeout, then execute: the write happens, unseen
            options["delay"] = CLIENT_TIMEOUT + 1.0
            options["method"] = rng.choice(["POST", "PUT", "PATCH"])
        try:
            sandboxes.fault(vendor, kind, times=rng.randint(1, 3), **options)
            fired[f"{vendor}:{kind}"] += 1
        except OSError:
            pass  # the sandbox is busy; the next one will do


# -- the books ------------------------------------------------------------------------------


def audit(state: dict[str, Any], database_url: str, output: str, result: ChaosResult) -> None:
    vendors = state["vendors"]
    deals = vendors["pipedrive"]["items"]["deal"]
    orgs = {o["id"]: o["name"] for o in vendors["pipedrive"]["items"]["organization"]}
    won = {f"PD-{d['id']}": orgs.get(d.get("org_id"), "") for d in deals if d["status"] == "won"}
    result.records = len(won)

    contacts = [
        r["element"]
        for r in vendors["xero"]["org"]["records"]["contact"]
        if r["element"].get("ContactStatus") == "ACTIVE"
    ]
    by_number = Counter(c.get("ContactNumber") for c in contacts if c.get("ContactNumber"))
    by_name = Counter(c["Name"].strip().lower() for c in contacts)

    asana = vendors["asana"]["workspace"]["tables"]
    field_gids = {g for g, f in asana["custom_field"].items() if f["name"] == CANONICAL_FIELD}
    projects = [p for p in asana["project"].values() if not p.get("archived")]

    def canonical(project: dict[str, Any]) -> str | None:
        values = [project["values"].get(g) for g in field_gids]
        return next((v for v in values if v), None)

    by_project_id = Counter(canonical(p) for p in projects if canonical(p))
    by_project_name = Counter(p["name"].strip().lower() for p in projects)

    for cid in sorted(won):
        if by_number[cid] == 0:
            result.lost.append(f"xero.contact for {cid}")
        if by_project_id[cid] == 0:
            result.lost.append(f"asana.project for {cid}")
    for cid, count in sorted(by_number.items()):
        if count > 1:
            result.doubled.append(f"xero.contact {cid} x{count}")
    for name, count in sorted(by_name.items()):
        if count > 1:
            result.doubled.append(f"xero.contact named {name!r} x{count}")
    for cid, count in sorted(by_project_id.items()):
        if count > 1:
            result.doubled.append(f"asana.project {cid} x{count}")
    for name, count in sorted(by_project_name.items()):
        if count > 1:
            result.doubled.append(f"asana.project named {name!r} x{count}")

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            result.unfinished = connection.execute(
                select(func.count()).select_from(EventRow).where(EventRow.status.in_(UNFINISHED))
            ).scalar_one()
            dead = connection.execute(
                select(EventRow.id).where(EventRow.status == EventStatus.DEAD.value)
            ).scalars()
            dead_ids = set(dead)
            covered = set(connection.execute(select(AlertEventRow.event_id)).scalars()) | {
                e for e in connection.execute(select(AlertRow.event_id)).scalars() if e
            }
            lock_outs = connection.execute(
                select(EventRow.id, EventRow.last_error_message).where(
                    EventRow.last_error_message.is_not(None)
                )
            ).all()
    finally:
        engine.dispose()
    result.dead = len(dead_ids)
    result.alerted = len(dead_ids & covered)
    result.unalerted_dead = sorted(dead_ids - covered)
    for event_id, message in lock_outs:
        if any(sign in (message or "") for sign in LOCKED_OUT):
            result.credentials_lost.append(f"event {event_id}: {message}")
    for line in output.splitlines():
        if any(sign in line for sign in LOCKED_OUT):
            result.credentials_lost.append(line.strip()[:300])


# -- the run --------------------------------------------------------------------------------


def _handoff(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_chaos(config: ChaosConfig, say: Any = print) -> ChaosResult:
    started = time.monotonic()
    result = ChaosResult(seed=config.seed)
    say(f"chaos seed {config.seed} (set HANDOFF_CHAOS_SEED to replay)")
    rng = random.Random(config.seed)
    workdir = config.workdir
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    state = workdir / "sandboxes.json"
    seed_backfill(state, config.records)
    sandboxes = ServedSandboxes(state, options=("--asana-plan", "paid")).start()
    workers: Workers | None = None
    faults_stop = threading.Event()
    extra_output: list[str] = []
    try:
        map_path = chaos_map(sandboxes, workdir)
        env = handoff_env(
            HANDOFF_DATABASE_URL=config.database_url,
            HANDOFF_SECRET_KEY=Fernet.generate_key().decode(),
            **served_credentials(sandboxes),
        )
        upgraded = _handoff(env, "db", "upgrade", timeout=120)
        if upgraded.returncode != 0:
            raise RuntimeError(f"db upgrade failed: {upgraded.stderr}")
        workers = Workers(env, map_path, logs)
        workers.start_all()
        threading.Thread(target=workers.keep_syncing, daemon=True).start()
        faults = threading.Thread(
            target=arm_faults,
            args=(
                sandboxes,
                random.Random(rng.random()),
                faults_stop,
                result.faults,
                config.fault_gap,
            ),
            daemon=True,
        )
        if config.faults:
            faults.start()
        while result.kills < config.kills:
            time.sleep(rng.uniform(*config.kill_gap))
            workers.kill_one(rng)
            result.kills += 1
        time.sleep(config.settle)
        faults_stop.set()
        if faults.is_alive():
            faults.join(timeout=5)
        workers.stop_all()
        for vendor in sandbox_names():
            sandboxes.clear_faults(vendor)

        # faults off: one clean run (again while killed workers' leases run out: sync --once
        # exits 3 on events another worker holds), then the dead are retried and delivered
        deadline = time.monotonic() + config.clean_timeout
        for args in (("sync", "--once"), ("retry", "--dead"), ("sync", "--once")):
            while True:
                done = _handoff(env, *args, "-c", str(map_path), timeout=config.clean_timeout)
                extra_output.append(done.stdout + done.stderr)
                say(f"handoff {' '.join(args)}: exit {done.returncode}")
                if done.returncode != HELD_ELSEWHERE or time.monotonic() > deadline:
                    break
                time.sleep(5)
            result.clean_exits.append((" ".join(args), done.returncode))
    finally:
        faults_stop.set()
        if workers is not None:
            workers.stop_all()
        sandboxes.stop()
        sandboxes.kill()
    saved = json.loads(state.read_text(encoding="utf-8"))
    output = (workers.output() if workers else "") + "\n".join(extra_output)
    audit(saved, config.database_url, output, result)
    result.wall_seconds = time.monotonic() - started
    say(result.figures())
    return result


def seed_from_env() -> int | None:
    raw = os.environ.get("HANDOFF_CHAOS_SEED")
    return int(raw) if raw else None

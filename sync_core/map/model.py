"""The integration map as typed models: systems, entities, phases, flows, alerts, admins.

Parsing turns the YAML's short forms (``from: pipedrive.deal``, ``retry: [1m, 5m]``,
``schedule: every 5m``) into typed values here; cross-references (does ``pipedrive.deal``
exist? is the flow's phase declared?) are checked in :mod:`sync_core.map.validate`, which
knows the file's line numbers.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from connectors.base import IdField

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


# A duration in a map is a schedule, a retry delay or a grouping window: more than a second
# (zero or less would poll or retry without pause, or never) and at most a year.
MIN_DURATION = timedelta(seconds=1)
MAX_DURATION = timedelta(days=365)
# Ids and counts a map may hold; the store keeps them in 32-bit integer columns.
MAX_PHASE_ID = 10_000
MAX_NAME_LENGTH = 200


def parse_duration(value: Any, *, maximum: timedelta | None = None) -> timedelta:
    """``30s``, ``5m``, ``4h``, ``7d``, or a number of seconds, from 1 second to 365 days (or
    to ``maximum``: a command's look-back may reach further than a map's schedules)."""
    top = maximum or MAX_DURATION
    seconds: float | None = None
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower().startswith("every "):
            text = text[6:]
        match = _DURATION.match(text)
        if match:
            seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds is None or seconds != seconds:  # not a duration, or NaN
        raise ValueError(f"{value!r} is not a duration (use forms like 30s, 5m, 4h, 7d)")
    if not MIN_DURATION.total_seconds() <= seconds <= top.total_seconds():
        raise ValueError(f"{value!r} is out of range: a duration is from 1s to {top.days:,}d")
    return timedelta(seconds=seconds)


def _plain_name(value: str) -> str:
    """A name shown in Slack, logs and the store: printable, on one line, not blank."""
    bad = [ch for ch in value if unicodedata.category(ch) in ("Cc", "Cf", "Cs")]
    if bad:
        raise ValueError(
            f"{value!r} contains the control character U+{ord(bad[0]):04X}; names must be "
            "printable text on one line"
        )
    if not value.strip():
        raise ValueError("a name cannot be empty or only spaces")
    if len(value) > MAX_NAME_LENGTH:
        raise ValueError(f"a name is at most {MAX_NAME_LENGTH} characters, not {len(value)}")
    return value


def _plain_text(value: str) -> str:
    """Free text (a description, an expression): lines and tabs allowed, other control
    characters (NUL, escape sequences) not."""
    bad = [ch for ch in value if unicodedata.category(ch) == "Cc" and ch not in "\t\n\r"]
    if bad:
        raise ValueError(f"the text contains the control character U+{ord(bad[0]):04X}")
    return value


def _strings(value: Any) -> list[str]:
    """Every text inside a mapping value (templates in lists and mappings too)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


# A name people and systems use: a flow, phase, system, entity, record type, field, channel.
Name = Annotated[str, AfterValidator(_plain_name)]
Text = Annotated[str, AfterValidator(_plain_text)]


def _plain_value(value: Any) -> Any:
    for text in _strings(value):
        _plain_text(text)
    return value


# A flow's field value: a template, a constant, or lists and mappings of them.
FieldValue = Annotated[Any, AfterValidator(_plain_value)]


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_SLACK_PRINCIPAL = re.compile(r"^(?:[UW][A-Z0-9]{2,}|@[a-z0-9][a-z0-9._-]*)$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class RecordRef(_Model):
    """``system.record_type``, e.g. ``pipedrive.deal``."""

    system: Name
    record_type: Name

    @classmethod
    def parse(cls, value: Any) -> RecordRef:
        if isinstance(value, RecordRef):
            return value
        if isinstance(value, dict):
            return cls(**value)
        if isinstance(value, str) and value.count(".") == 1 and all(value.split(".")):
            return _parsed_ref(value) if cls is RecordRef else cls._of_text(value)
        raise ValueError(f"{value!r} is not a record reference (write it as system.record_type)")

    @classmethod
    def _of_text(cls, value: str) -> RecordRef:
        system, record_type = value.split(".")
        return cls(system=system.strip(), record_type=record_type.strip())

    def __str__(self) -> str:
        return f"{self.system}.{self.record_type}"


@functools.lru_cache(maxsize=4096)
def _parsed_ref(value: str) -> RecordRef:
    """``system.record_type`` text parsed once: the engine parses a map's copies per record
    (the refs are frozen, so one instance serves every caller)."""
    return RecordRef._of_text(value)


def _ref(value: Any) -> RecordRef:
    return RecordRef.parse(value)


ENV_PREFIX = "env:"


class System(_Model):
    connector: Name
    auth: dict[Name, Text] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)
    base_url: Text | None = None
    # custom fields a flow may write, per record type: {deal: ["Invoice status"]}
    custom_fields: dict[Name, list[Name]] = Field(default_factory=dict)

    def env_names(self) -> dict[str, str]:
        """credential name -> environment variable name (every auth value is an env: ref)."""
        return {
            key: value[len(ENV_PREFIX) :]
            for key, value in self.auth.items()
            if isinstance(value, str) and value.startswith(ENV_PREFIX)
        }


# A short, typeable code in a canonical ID: ``{code}`` or ``{code:N}`` (N characters).
CODE_TOKEN = re.compile(r"\{code(?::(\d+))?\}")
DEFAULT_CODE_LENGTH = 4
CODE_LENGTHS = range(4, 13)


class CanonicalId(_Model):
    minted_by: RecordRef
    format: Name = "{id}"

    _parse_ref = field_validator("minted_by", mode="before")(_ref)

    @property
    def code_length(self) -> int | None:
        """The length of a short code (``{code}``: 4, ``{code:6}``: 6), or None for a format
        that carries the minting record's own id (``{id}``)."""
        found = CODE_TOKEN.search(self.format)
        if found is None:
            return None
        return int(found.group(1) or DEFAULT_CODE_LENGTH)

    def mint(self, external_id: str) -> str:
        """The canonical ID of an ``{id}`` format (a short-code format is minted against the
        store: ``sync_core.minting``)."""
        return self.format.replace("{id}", str(external_id))

    def with_code(self, code: str) -> str:
        return CODE_TOKEN.sub(code, self.format, count=1)

    def external_id_of(self, canonical_id: str) -> str | None:
        """The minting record's id, read back out of a canonical ID (``PD-42`` → ``42``)."""
        if "{id}" not in self.format:
            return None  # a short code says nothing of the record: its link does
        prefix, _, suffix = self.format.partition("{id}")
        if canonical_id.startswith(prefix) and canonical_id.endswith(suffix):
            return canonical_id[len(prefix) : len(canonical_id) - len(suffix) or None]
        return None


class Ownership(_Model):
    """One line of an entity's source of truth."""

    system: RecordRef
    fields: list[Name] | None = None  # None: every field not owned by another line
    until: Text | None = None  # owns the entity until this condition holds
    when: Text | None = None  # owns the entity while this condition holds

    _parse_ref = field_validator("system", mode="before")(_ref)


def _id_field(value: Any) -> Any:
    """The map's ``id_field`` text, parsed here once (see :class:`IdField`)."""
    if isinstance(value, IdField):
        return value
    if not isinstance(value, str):
        raise ValueError("id_field must be text: a field name, or custom_field:<name>")
    return IdField.parse(_plain_name(value))


def _optional_id_field(value: Any) -> Any:
    return None if value is None else _id_field(value)


class Copy(_Model):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    id_field: IdField

    _parse_id_field = field_validator("id_field", mode="before")(_id_field)


class ParentLink(_Model):
    """How a child record finds its parent entity: ``via`` yields the external id of a record of
    ``record`` (a record type of the parent entity), whose link gives the parent canonical ID."""

    entity: Name
    via: Text
    record: RecordRef
    # Where a child record written from its parent (a draft invoice for a won deal) keeps the
    # parent's canonical ID: one such record per parent, found again by it. None: a flow
    # from the parent cannot create children.
    id_field: IdField | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)
    _parse_ref = field_validator("record", mode="before")(_ref)
    _parse_id_field = field_validator("id_field", mode="before")(_optional_id_field)


class MatchSettings(_Model):
    """How existing records of an entity are reconciled (``handoff match ENTITY``).

    ``keys``: key name → record type → template over the record (``{{ Name }}``). The key
    names ``name``, ``email``, ``email_domain``, ``website``, ``phone`` and ``tax_number`` are
    normalised for what they are; any other is compared as text. Left out, ``name`` is each
    record's display name (the entity's ``display_name`` for the minting record).
    """

    keys: dict[str, dict[str, str]] = Field(default_factory=dict)
    auto_accept: float = Field(default=0.95, ge=0, le=1)
    review: float = Field(default=0.75, ge=0, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> MatchSettings:
        if self.review > self.auto_accept:
            raise ValueError(
                f"review ({self.review}) must not be above auto_accept ({self.auto_accept})"
            )
        return self

    def key_templates(self, ref: RecordRef) -> dict[str, str]:
        """key name → template for records of ``ref``."""
        return {key: per_ref[str(ref)] for key, per_ref in self.keys.items() if str(ref) in per_ref}


class Entity(_Model):
    canonical_id: CanonicalId
    source_of_truth: list[Ownership] = Field(default_factory=list)
    copies: dict[Name, Copy] = Field(default_factory=dict)
    parent: ParentLink | None = None
    description: Text | None = None
    # how people name one of these, from the minting record (default: its display name)
    display_name: Text | None = None
    match: MatchSettings = Field(default_factory=MatchSettings)

    @field_validator("source_of_truth", mode="before")
    @classmethod
    def _sot_short_forms(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [{"system": value}]
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list):
            # each line may be short too: [xero.invoice, {system: ..., fields: [...]}]
            return [{"system": item} if isinstance(item, str) else item for item in value]
        return value

    def copy_refs(self) -> dict[RecordRef, Copy]:
        return {RecordRef.parse(key): copy for key, copy in self.copies.items()}

    def record_refs(self) -> list[RecordRef]:
        """Every record type that holds this entity: the minting one first, then the copies."""
        refs = [self.canonical_id.minted_by]
        refs.extend(ref for ref in self.copy_refs() if ref not in refs)
        return refs

    def id_field_for(self, ref: RecordRef) -> IdField | None:
        for copy_ref, copy in self.copy_refs().items():
            if copy_ref == ref:
                return copy.id_field
        return None


class PhaseState(StrEnum):
    PLANNED = "planned"
    PARALLEL = "parallel"
    LIVE = "live"


class ManualCopy(_Model):
    """Today's hand copying a phase retires: who copies which fields from where to where."""

    who: Name
    source: RecordRef = Field(alias="from")
    target: RecordRef = Field(alias="to")
    fields: list[Name] = Field(default_factory=list)
    when: Text | None = None  # when they do it, in words ("when a deal is won")

    _parse_refs = field_validator("source", "target", mode="before")(_ref)


class Phase(_Model):
    id: int = Field(ge=1, le=MAX_PHASE_ID, strict=True)
    name: Name
    parallel_days: int = Field(default=7, ge=0, le=365, strict=True)
    state: PhaseState = PhaseState.PLANNED  # initial state, before anyone promotes it
    manual_step: Text | None = None  # the hand process this phase retires at cutover
    # the same process as data, for the picture of the current state
    manual_copies: list[ManualCopy] = Field(default_factory=list)


class LinkBack(_Model):
    field: Name
    value: Text


class FieldRule(_Model):
    conflict: Literal["last_write_wins", "source_wins", "target_wins", "manual"] | None = None
    # how an edit the conflict rule overwrites is reported: an alert at once, or a daily digest
    report: Literal["alert", "digest"] | None = None


class Flow(_Model):
    """A one-way flow (``from``/``to``) or a two-way one (``between``)."""

    name: Name
    phase: int = Field(ge=1, le=MAX_PHASE_ID, strict=True)
    source: RecordRef | None = Field(default=None, alias="from")
    target: RecordRef | None = Field(default=None, alias="to")
    between: tuple[RecordRef, RecordRef] | None = None
    when: Text | None = None
    schedule: timedelta = timedelta(minutes=5)
    fields: dict[Name, FieldValue] = Field(default_factory=dict)
    link_back: LinkBack | None = None
    description: Text | None = None
    # what to do when someone edits by hand a field this flow writes: put it back (revert),
    # only record it in the audit log (report), or nothing (ignore)
    drift: Literal["revert", "report", "ignore"] = "revert"
    # whether a target record already written is written again when its source changes:
    # ``never`` creates it once and leaves it to people after that (a draft invoice that
    # accounts approve, which the vendor then refuses to change)
    updates: Literal["always", "never"] = "always"

    @field_validator("source", "target", mode="before")
    @classmethod
    def _parse_ref(cls, value: Any) -> Any:
        return None if value is None else RecordRef.parse(value)

    @field_validator("between", mode="before")
    @classmethod
    def _parse_between(cls, value: Any) -> Any:
        if value is None:
            return None
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError("between takes exactly two record references")
        return tuple(RecordRef.parse(v) for v in value)

    @field_validator("schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: Any) -> Any:
        return parse_duration(value)

    @model_validator(mode="after")
    def _direction(self) -> Flow:
        if self.between is not None:
            if self.source is not None or self.target is not None:
                raise ValueError("a flow has either from/to or between, not both")
        elif self.source is None or self.target is None:
            raise ValueError("a one-way flow needs both from and to")
        return self

    @model_validator(mode="before")
    @classmethod
    def _create_only_drift(cls, value: Any) -> Any:
        # putting a hand edit back would be an update: a create-only flow reports drift
        if isinstance(value, dict) and value.get("updates") == "never" and "drift" not in value:
            return {**value, "drift": "report"}
        return value

    @model_validator(mode="after")
    def _create_only(self) -> Flow:
        if self.updates == "always":
            return self
        if self.between is not None:
            raise ValueError("updates: never is for one-way flows (a two-way flow updates)")
        if self.drift == "revert":
            raise ValueError(
                "drift: revert would update what updates: never leaves alone "
                "(use drift: report or ignore)"
            )
        return self

    @property
    def create_only(self) -> bool:
        """A target record is written once, when it is created, and never updated."""
        return self.updates == "never"

    @property
    def two_way(self) -> bool:
        return self.between is not None

    def two_way_fields(self) -> list[tuple[str, str, FieldRule]]:
        """``a_field <-> b_field`` pairs of a two-way flow with their rules."""
        pairs = []
        for key, rule in self.fields.items():
            left, sep, right = key.partition("<->")
            if sep:
                parsed = (
                    FieldRule.model_validate(rule or {}) if isinstance(rule, dict) else FieldRule()
                )
                pairs.append((left.strip(), right.strip(), parsed))
        return pairs


class AlertSettings(_Model):
    channel: Name = "#integration-alerts"
    retry: list[timedelta] = Field(
        default_factory=lambda: [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30)]
    )
    escalate_after: timedelta | None = timedelta(hours=4)
    mention: Name | None = None
    group_window: timedelta = timedelta(minutes=10)
    group_threshold: int = Field(default=3, ge=1, le=10_000, strict=True)
    # Who may press Retry and Ignore on alerts besides the admins: user ids or @groups.
    operators: list[str] = Field(default_factory=list)

    @field_validator("operators")
    @classmethod
    def _check_operators(cls, value: list[str]) -> list[str]:
        for who in value:
            if not _SLACK_PRINCIPAL.match(who):
                raise ValueError(
                    f"operators: {who!r} is neither a Slack user id (U0OPS) "
                    "nor a user group (@ops-oncall)"
                )
        return value

    @field_validator("retry", mode="before")
    @classmethod
    def _parse_retry(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError("retry is a list of durations, e.g. [1m, 5m, 30m]")
        if len(value) > 20:
            raise ValueError(f"retry lists {len(value)} delays; at most 20")
        return [parse_duration(v) for v in value]

    @field_validator("escalate_after", "group_window", mode="before")
    @classmethod
    def _parse_duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


RETENTION_MINIMUM = timedelta(days=1)  # the audit log is evidence: never pruned by the hour


def _kept_for(value: Any) -> timedelta | None:
    """A retention period: a duration of a day or more, or ``off`` (kept forever)."""
    if value is None or value is False or (isinstance(value, str) and value.strip() == "off"):
        return None  # YAML reads a bare ``off`` as false
    period = parse_duration(value)
    if period < RETENTION_MINIMUM:
        raise ValueError(f"{value!r} is too short: keep history a day or more (e.g. 30d), or off")
    return period


class Retention(_Model):
    """How long finished history is kept; the service prunes on a schedule (leader only)."""

    events: timedelta | None = timedelta(days=90)  # finished events and their attempts
    http_log: timedelta | None = timedelta(days=14)  # lines of the HTTP exchange log
    every: timedelta = timedelta(hours=6)

    @model_validator(mode="before")
    @classmethod
    def _off(cls, value: Any) -> Any:
        if value is None or value is False or value == "off":
            return {"events": None, "http_log": None}
        return value

    @field_validator("events", "http_log", mode="before")
    @classmethod
    def _parse_kept(cls, value: Any) -> Any:
        return _kept_for(value)

    @field_validator("every", mode="before")
    @classmethod
    def _parse_every(cls, value: Any) -> Any:
        return parse_duration(value)


class IntegrationMap(_Model):
    version: Literal[1] = 1
    name: Name
    admins: list[Name] = Field(default_factory=list)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    retention: Retention = Field(default_factory=Retention)
    systems: dict[Name, System]
    entities: dict[Name, Entity] = Field(default_factory=dict)
    phases: list[Phase] = Field(default_factory=list)
    flows: list[Flow] = Field(default_factory=list)

    # ---- lookups the engine uses -------------------------------------------------------

    def flow(self, name: str) -> Flow:
        for flow in self.flows:
            if flow.name == name:
                return flow
        raise KeyError(name)

    def phase(self, phase_id: int) -> Phase:
        for phase in self.phases:
            if phase.id == phase_id:
                return phase
        raise KeyError(phase_id)

    def entity_of(self, ref: RecordRef) -> tuple[str, Entity] | None:
        """The entity a record type holds (as its minting system or as a copy)."""
        for name, entity in self.entities.items():
            if ref in entity.record_refs():
                return name, entity
        return None

    def one_way_flows(self) -> list[Flow]:
        return [flow for flow in self.flows if not flow.two_way]

    def sources(self) -> list[RecordRef]:
        """Every (system, record type) a flow reads from (both sides of a two-way one), once."""
        seen: list[RecordRef] = []
        for flow in self.flows:
            refs = list(flow.between) if flow.between else [flow.source]
            for ref in refs:
                if ref is not None and ref not in seen:
                    seen.append(ref)
        return seen

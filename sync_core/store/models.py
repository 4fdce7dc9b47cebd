"""The store's tables as SQLAlchemy 2.0 typed models. The schema is owned by Alembic
(``migrations/``); nothing here creates tables.

The ``events`` table is both the audit log and the delivery queue: one row per planned write,
with its status, retry schedule and lease; ``attempts`` keeps one row per try.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on every engine (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class DisplayText(TypeDecorator[str]):
    """A name shown to people (a customer's, a record's), clipped to its column on the way
    in: a vendor's name of 100,000 characters is kept by its start on every engine instead
    of failing the whole write on PostgreSQL (SQLite would keep it whole)."""

    impl = String
    cache_ok = True

    def __init__(self, length: int) -> None:
        super().__init__(length)
        self.limit = length

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        if value is None or len(value) <= self.limit:
            return value
        return value[: self.limit - 1] + "…"


# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
    }


class EventStatus(StrEnum):
    PENDING = "pending"  # due for its first delivery
    RETRYING = "retrying"  # failed, waiting for its next attempt
    DELIVERED = "delivered"
    DEAD = "dead"  # retries exhausted or a permanent error: alerted
    SHADOW = "shadow"  # planned during a parallel period: recorded, not written
    IGNORED = "ignored"  # someone chose not to deliver it, with a reason
    SUPERSEDED = "superseded"  # a newer event for the same flow and record replaced it


OPEN_STATUSES = (EventStatus.PENDING, EventStatus.RETRYING)

# Dead events that planning could not finish (a mapping that fails on the record, an error
# nobody anticipated): their payload keeps the source record, not a write, and a Retry
# plans them again from it with the map loaded now.
UNPLANNED_KINDS = ("mapping", "internal")


class EntityRow(Base):
    __tablename__ = "entities"
    # exact canonical-ID lookups ignore case (/where PD-1, /where pd-1); migration 0002
    __table_args__ = (Index("ix_entities_canonical_id_lower", text("lower(canonical_id)")),)

    canonical_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    entity: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(DisplayText(500), default="")
    search_name: Mapped[str] = mapped_column(DisplayText(500), default="", index=True)
    minted_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LinkRow(Base):
    """Where one canonical entity lives in one system."""

    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("system", "record_type", "external_id", name="uq_links_record"),
        Index("ix_links_canonical", "canonical_id"),
        # /where finds a customer by a system's own id whatever the system; migration 0006
        Index("ix_links_external_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    canonical_id: Mapped[str] = mapped_column(ForeignKey("entities.canonical_id"))
    system: Mapped[str] = mapped_column(String(100))
    record_type: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    url: Mapped[str | None] = mapped_column(String(1000))
    display_name: Mapped[str | None] = mapped_column(DisplayText(500))
    last_payload_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CursorRow(Base):
    __tablename__ = "cursors"

    system: Mapped[str] = mapped_column(String(100), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


OPEN_WHERE = "status IN ('pending', 'retrying')"
LEASED_WHERE = "lease_until IS NOT NULL"


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_due", "status", "next_attempt_at"),
        Index("ix_events_canonical", "canonical_id", "id"),
        Index("ix_events_target_canonical", "target_canonical_id", "id"),
        Index("ix_events_flow_canonical", "flow", "canonical_id", "id"),
        Index("ix_events_target_status", "target_system", "status"),
        # The delivery queue, walked in claim order: a claim reads its first rows and stops
        # instead of sorting every due event.
        Index(
            "ix_events_open_due",
            "next_attempt_at",
            "id",
            postgresql_where=text(OPEN_WHERE),
            sqlite_where=text(OPEN_WHERE),
        ),
        # Events holding a lease (booking clears it): a claim's check that no other write to
        # the same record is in flight reads these few rows, not every event of the target.
        Index(
            "ix_events_leased_target",
            "target_canonical_id",
            "lease_until",
            postgresql_where=text(LEASED_WHERE),
            sqlite_where=text(LEASED_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    flow: Mapped[str] = mapped_column(String(200))
    phase: Mapped[int | None]
    mode: Mapped[str] = mapped_column(String(20))  # live | parallel
    canonical_id: Mapped[str] = mapped_column(String(200))
    source_system: Mapped[str] = mapped_column(String(100))
    source_record_type: Mapped[str] = mapped_column(String(100))
    source_external_id: Mapped[str] = mapped_column(String(200))
    target_system: Mapped[str] = mapped_column(String(100))
    target_record_type: Mapped[str] = mapped_column(String(100))
    target_external_id: Mapped[str | None] = mapped_column(String(200))
    # the entity written in the target: the event's own canonical ID, or its parent's
    target_canonical_id: Mapped[str] = mapped_column(String(200))
    id_field: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    payload_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    last_error_kind: Mapped[str | None] = mapped_column(String(40))
    last_error_message: Mapped[str | None] = mapped_column(Text)
    last_http_status: Mapped[int | None]
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    @property
    def source(self) -> str:
        return f"{self.source_system}.{self.source_record_type}"

    @property
    def target(self) -> str:
        return f"{self.target_system}.{self.target_record_type}"


class AttemptRow(Base):
    __tablename__ = "attempts"
    __table_args__ = (Index("ix_attempts_event", "event_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(20))  # delivered | failed | dead
    http_status: Mapped[int | None]
    duration_ms: Mapped[float | None]
    waited_ms: Mapped[float | None]
    error_kind: Mapped[str | None] = mapped_column(String(40))
    error_message: Mapped[str | None] = mapped_column(Text)
    # ids of the HTTP exchanges of this attempt, comma-separated (lines of the exchange log)
    exchange_id: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(100))


class PhaseRow(Base):
    __tablename__ = "phases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(20))
    state_since: Mapped[datetime]
    parallel_started_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class PhaseChangeRow(Base):
    __tablename__ = "phase_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id"))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    gates_overridden: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class AlertRow(Base):
    """One alert message: for one dead event, or for a group of them with one cause."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_group_state", "group_key", "state"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    group_key: Mapped[str] = mapped_column(String(300))
    grouped: Mapped[bool] = mapped_column(Boolean, default=False)
    count: Mapped[int] = mapped_column(Integer, default=1)
    state: Mapped[str] = mapped_column(String(20))  # open | acknowledged | resolved | ignored
    channel: Mapped[str | None] = mapped_column(String(200))
    message_ts: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    escalated_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]


class AlertEventRow(Base):
    """Which dead events an alert covers (several for a grouped alert)."""

    __tablename__ = "alert_events"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), primary_key=True)


class ShadowWriteRow(Base):
    """A write a phase in its parallel period would have made, kept for comparison."""

    __tablename__ = "shadow_writes"
    __table_args__ = (Index("ix_shadow_flow", "flow", "canonical_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    flow: Mapped[str] = mapped_column(String(200))
    phase: Mapped[int | None]
    canonical_id: Mapped[str] = mapped_column(String(200))
    target_system: Mapped[str] = mapped_column(String(100))
    target_record_type: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    compared_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(20))  # match | differs | missing
    differences: Mapped[dict[str, Any] | None]


class FlowStateRow(Base):
    """Run state of one flow: paused by an admin, last poll."""

    __tablename__ = "flow_states"

    flow: Mapped[str] = mapped_column(String(200), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_by: Mapped[str | None] = mapped_column(String(200))
    last_run_at: Mapped[datetime | None]
    last_run_outcome: Mapped[str | None] = mapped_column(Text)
    # the source's cursor when the flow was first skipped while paused: on resume the source
    # is read again from there, so nothing that changed during the pause is lost
    resume_cursor: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime]


class ActionRow(Base):
    """Who did what by hand (retry, ignore, promote, pause...), and why."""

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_subject", "subject"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(50))
    subject: Mapped[str] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None]
    allowed: Mapped[bool] = mapped_column(Boolean, default=True)


class CredentialRow(Base):
    """One system's rotating OAuth tokens, encrypted, shared by every process on the store.

    Refreshed under a row lock; ``version`` counts the rotations."""

    __tablename__ = "credentials"

    system: Mapped[str] = mapped_column(String(100), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)  # encrypted
    refresh_token: Mapped[str] = mapped_column(Text)  # encrypted
    # the API host the vendor named with the tokens (Pipedrive's api_domain): not a secret
    api_domain: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime]


class StoreSettingRow(Base):
    """What the store remembers about how it is run (the map it runs with...)."""

    __tablename__ = "store_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class MatchStatus(StrEnum):
    OPEN = "open"  # in the review band, waiting for a person
    ACCEPTED = "accepted"  # by a person or at or above auto_accept: to be applied
    REJECTED = "rejected"  # not the same customer; never proposed again as open
    APPLIED = "applied"  # the canonical ID is stamped into the record and the link stored
    STALE = "stale"  # no longer proposed by the latest run (a record changed or went away)
    MERGED = "merged"  # the record was merged into the customer's own one and is gone


# The decision apply records when the record carries another canonical ID: the proposal goes
# back to a person (open, in the review band), never to auto_accept again.
REFUSED = "conflict"


class MatchRecordRow(Base):
    """A record read for matching, reduced to what matching and review need: the values of
    its match keys as read, its name and its address in the vendor's app."""

    __tablename__ = "match_records"

    entity: Mapped[str] = mapped_column(String(100), primary_key=True)
    system: Mapped[str] = mapped_column(String(100), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    display_name: Mapped[str | None] = mapped_column(DisplayText(500))
    url: Mapped[str | None] = mapped_column(String(1000))
    keys: Mapped[dict[str, Any]]
    # the normalised name and keys (``keys.dump_normalised``): read back without normalising
    # again; NULL in a row kept before migration 0010
    normalised: Mapped[dict[str, Any] | None]
    read_at: Mapped[datetime]


class KeptRecord(NamedTuple):
    """A row of ``match_records`` read as plain values: reading hundreds of thousands of them
    back to pair them, building a model object each took most of the time."""

    system: str
    record_type: str
    external_id: str
    display_name: str | None
    url: str | None
    keys: dict[str, Any]
    normalised: dict[str, Any] | None


class MatchBlockRow(Base):
    """One block key of a record read for matching (``blocking.block_keys``): reconciling two
    large sides pairs the records sharing a key here, without holding the records.

    The primary key leads with ``key``: pairing joins on it. There is no index led by entity
    and record type: PostgreSQL, without statistics on a freshly filled table, walked such an
    index end to end instead of hashing (a pairing of 50,000 a side took 370 s, not 44 s)."""

    __tablename__ = "match_blocks"
    __table_args__ = (
        # a record kept again drops its old keys by this
        Index("ix_match_blocks_record", "external_id", "system", "record_type", "entity"),
    )

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    entity: Mapped[str] = mapped_column(String(100), primary_key=True)
    system: Mapped[str] = mapped_column(String(100), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(100), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    read_at: Mapped[datetime]


class MatchProposalRow(Base):
    """A probable match: the minting record of a customer and a record in a copy system."""

    __tablename__ = "match_proposals"
    __table_args__ = (
        UniqueConstraint(
            "entity", "canonical_id", "system", "record_type", "external_id", name="uq_match_pair"
        ),
        Index("ix_match_proposals_status", "entity", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(100))
    canonical_id: Mapped[str] = mapped_column(String(200))  # minted from the source record
    source_system: Mapped[str] = mapped_column(String(100))
    source_record_type: Mapped[str] = mapped_column(String(100))
    source_external_id: Mapped[str] = mapped_column(String(200))
    source_name: Mapped[str | None] = mapped_column(DisplayText(500))
    system: Mapped[str] = mapped_column(String(100))
    record_type: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(DisplayText(500))
    score: Mapped[float] = mapped_column(Float)
    reasons: Mapped[str] = mapped_column(Text, default="")
    band: Mapped[str] = mapped_column(String(20))  # auto | review
    status: Mapped[str] = mapped_column(String(20))
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    applied_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def ref(self) -> str:
        return f"{self.system}.{self.record_type}"


class MatchDecisionRow(Base):
    """Each decision on a proposal (accept, reject, unlink...): who, when and why."""

    __tablename__ = "match_decisions"
    __table_args__ = (Index("ix_match_decisions_proposal", "proposal_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("match_proposals.id"))
    decision: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class AlertOutboxRow(Base):
    """A change to an alert's Slack message waiting to be sent: its first post, a redraw,
    or an escalation in its thread. The sender draws the alert as it stands when it sends,
    so several pending redraws of one alert go out as one."""

    __tablename__ = "alert_outbox"
    __table_args__ = (
        Index("ix_alert_outbox_pending", "sent_at", "due_at"),
        Index("ix_alert_outbox_alert", "alert_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"))
    kind: Mapped[str] = mapped_column(String(20))  # post | update | escalate
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)

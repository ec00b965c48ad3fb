"""The reference notes in PostgreSQL: kept in step with the repository, searched by full-text rank.

`sync` runs after every migration (the CLI, the deploy-time custom resource, the local stack):
passages whose text changed are replaced, so the table always holds exactly the shipped notes.
Reports keep the passages they cited in their own `sources`, so a later edit never changes a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from cradlepose import reference_notes
from cradlepose.common.system import SYSTEM
from cradlepose.db.models import ReferencePassage
from cradlepose.db.unit_of_work import UnitOfWorkFactory
from cradlepose.domain.actor import RequestContext
from cradlepose.domain.audit import AuditEntry
from cradlepose.domain.enums import AuditCategory
from cradlepose.domain.reference_notes import Passage, library_revision

SYNC_CONTEXT = RequestContext(user_agent="cradle-migrate", endpoint="reference-library:sync", method="SYNC")


@dataclass(frozen=True)
class SyncResult:
    added: int
    removed: int
    kept: int
    revision: str


@dataclass(frozen=True)
class Library:
    revision: str
    notes: int
    passages: int

    def describe(self) -> str:
        return f"revision {self.revision}, {self.notes} notes, {self.passages} passages"


def sync(uow_factory: UnitOfWorkFactory, passages: Sequence[Passage] | None = None) -> SyncResult:
    """Make `reference_passages` hold exactly `passages` (default: the notes shipped with Cradle)."""
    wanted = {p.content_hash: p for p in (reference_notes.load() if passages is None else passages)}
    with uow_factory(SYSTEM, SYNC_CONTEXT) as uow:
        session = uow.session
        session.execute(sa.text("LOCK TABLE reference_passages IN SHARE ROW EXCLUSIVE MODE"))
        stored = set(session.scalars(sa.select(ReferencePassage.content_hash)))
        stale = stored - wanted.keys()
        new = [wanted[h] for h in wanted.keys() - stored]
        if stale:
            session.execute(sa.delete(ReferencePassage).where(ReferencePassage.content_hash.in_(stale)))
        session.add_all(
            ReferencePassage(
                note=p.note, title=p.title, body=p.body, citation=p.citation, content_hash=p.content_hash
            )
            for p in new
        )
        result = SyncResult(len(new), len(stale), len(stored & wanted.keys()), library_revision(wanted))
        if new or stale:
            uow.audit(
                AuditEntry(
                    action="REFERENCE_LIBRARY_SYNCED",
                    category=AuditCategory.SYSTEM,
                    resource_type="ReferenceLibrary",
                    resource_id=0,
                    resource_name=f"revision {result.revision}",
                    new_values={"added": result.added, "removed": result.removed, "kept": result.kept},
                )
            )
            uow.commit()
    return result


def describe_library(session: sa.orm.Session) -> Library:
    rows = session.execute(sa.select(ReferencePassage.note, ReferencePassage.content_hash)).all()
    return Library(
        revision=library_revision(h for _, h in rows), notes=len({n for n, _ in rows}), passages=len(rows)
    )


def describe_library_of(engine: sa.Engine) -> Library:
    with sa.orm.Session(engine) as session:
        return describe_library(session)


@dataclass(frozen=True)
class Found:
    passage: ReferencePassage
    rank: float


def search(session: sa.orm.Session, query: str, limit: int = 2) -> list[Found]:
    """Passages matching `query` (websearch syntax: words, "or", quotes), best full-text rank first."""
    ts_query = sa.func.websearch_to_tsquery("english", query)
    rank = sa.func.ts_rank_cd(ReferencePassage.search, ts_query)
    rows = session.execute(
        sa.select(ReferencePassage, rank)
        .where(ReferencePassage.search.op("@@")(ts_query))
        .order_by(rank.desc(), ReferencePassage.id)
        .limit(limit)
    ).all()
    return [Found(passage, float(score)) for passage, score in rows]

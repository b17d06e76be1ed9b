"""Entities from submissions: applying the change a processed submission asks for
(``entitychange`` reads it from the record).

The worker applies the change in the transaction that stores the record; when the list requires
approval, the change waits until the submission is approved (``on_approval``). An update based on
an older version than the current one applies and flags a conflict (``entities.update_entity``).
A change that cannot be applied (no such entity or base version, a uuid already taken, no label)
leaves the submission processed and its data intact, and records an ``entity.error`` audit
entry with the problem's code: a data manager sees it there and can apply the change by hand.
A form's edited submission (a new version of one already processed) updates its entity when it
asks to update; a create it repeats is not applied again.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from collector import audit, entities, vault
from collector.entitychange import Change
from collector.errors import CollectorError, Conflict, NotFound
from collector.models import Dataset, Entity, Submission

log = logging.getLogger(__name__)


def _problem(session: Session, change: Change, code: float, reason: str) -> None:
    # The code and a fixed reason only: messages can quote submitted values.
    audit.record(
        session,
        audit.SYSTEM,
        "entity.error",
        project_id=change.project_id,
        subject=change.instance_id,
        list=change.action.dataset,
        entity=change.action.uuid,
        code=code,
        reason=reason,
    )


def _dataset(session: Session, change: Change) -> Dataset | None:
    return session.scalars(
        select(Dataset).where(
            Dataset.project_id == change.project_id, Dataset.name == change.action.dataset
        )
    ).one_or_none()


def _approved(session: Session, change: Change) -> bool:
    # Approved before it was processed: the approval found no record, so it applies now.
    root = session.get(Submission, change.root_id)
    return root is not None and root.review_state == "approved"


def apply(
    session: Session, secrets: vault.Secrets, change: Change, *, on_approval: bool = False
) -> Entity | None:
    """Create or update the submission's entity in the caller's transaction.

    Returns the entity, or None when the change waits for approval, repeats a create of an
    edited submission, or cannot be applied (then audited as ``entity.error``).
    """
    dataset = _dataset(session, change)
    if dataset is None:
        _problem(session, change, 404.7, "the entity list does not exist")
        return None
    if dataset.approval_required and not on_approval and not _approved(session, change):
        return None
    return _apply(session, secrets, change, dataset, on_approval=on_approval)


#: How often an update that raced another writer of its entity is tried again.
RACE_RETRIES = 3


def _apply(
    session: Session, secrets: vault.Secrets, change: Change, dataset: Dataset, *, on_approval: bool
) -> Entity | None:
    attempt = 0
    while True:
        try:
            with session.begin_nested():
                return _write(session, secrets, change, dataset, on_approval=on_approval)
        except Conflict as problem:
            # A submission's update cannot be stale (an older base applies, flagged); this is
            # another writer changing the entity since it was read: read it again and reapply.
            if problem.code == 409.15 and attempt < RACE_RETRIES:
                attempt += 1
                continue
            _problem(session, change, problem.code, type(problem).__name__)
        except CollectorError as problem:
            _problem(session, change, problem.code, type(problem).__name__)
        except IntegrityError:
            # Another writer took the uuid between the lookup and the insert.
            _problem(session, change, 409.3, "Conflict")
        except OperationalError:
            raise  # the database, not the change: the caller retries the whole batch
        except Exception:
            # The submission is stored whatever happens to its entity.
            log.exception(
                "submission %s: unexpected error applying its entity change", change.submission_id
            )
            _problem(session, change, 500.1, "internal-error")
        return None


def _write(
    session: Session, secrets: vault.Secrets, change: Change, dataset: Dataset, *, on_approval: bool
) -> Entity | None:
    action = change.action
    source = {"submission": change.instance_id}
    existing = entities.find_entity(session, dataset, action.uuid)
    if action.update and existing is not None and existing.deleted_at is None:
        change_to = entities.Update(
            label=change.label or None,
            data=change.data,
            base_version=action.base_version,
        )
        return entities.update_entity(
            session,
            secrets,
            dataset,
            existing,
            change_to,
            actor=audit.SYSTEM,
            source=source,
            creator_id=change.creator_id,
            user_agent=change.user_agent,
            offline=True,
        )
    # An edit, or a second approval, does not create its entity again.
    repeated = existing is not None and (change.edit or on_approval)
    if action.create and not repeated:
        (created,) = entities.create_entities(
            session,
            secrets,
            dataset,
            [entities.NewEntity(change.label, change.data, action.uuid or "")],
            actor=audit.SYSTEM,
            user_agent=change.user_agent,
            creator_id=change.creator_id,
            source=source,
        )
        return created
    if action.create:
        return None
    raise NotFound(f"entity {action.uuid} does not exist", code=404.8)


def on_approval(session: Session, secrets: vault.Secrets, change: Change) -> Entity | None:
    """Apply the entity change of an approved submission (its current version's) to a list that
    requires approval; nothing for other lists, whose changes applied when it was processed."""
    dataset = _dataset(session, change)
    if dataset is None or not dataset.approval_required:
        return None
    return _apply(session, secrets, change, dataset, on_approval=True)

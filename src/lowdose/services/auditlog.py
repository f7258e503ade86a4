"""The audit log as a use case: checking the chain (`lowdose audit verify`)."""

from __future__ import annotations

from lowdose.security import audit
from lowdose.security.audit import ChainReport
from lowdose.security.policy import ClinicAction, authorize_clinic
from lowdose.services.context import Context
from lowdose.services.errors import Forbidden
from lowdose.store.db import Database


def verify_audit_log(db: Database, ctx: Context) -> ChainReport:
    """Walk the whole chain (the operator, or a clinic admin); the check is itself audited.

    Keep `head_hash` of a good report somewhere else: a later report whose chain does not
    contain it shows the log was rewritten.
    """
    if not authorize_clinic(ctx.actor, ClinicAction.READ_AUDIT, ctx.actor.clinic_id):
        raise Forbidden("not allowed: verify the audit log")
    with db.transaction(write=False) as session:
        report = audit.verify_chain(session)
    with db.transaction() as session:
        audit.append(session, at=ctx.at, actor_user_id=ctx.actor.user_id,
                     action="audit.verify", outcome=audit.ALLOWED if report.ok else "broken",
                     source=ctx.source)
    return report


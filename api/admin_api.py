"""Admin endpoints beyond Central's API: key rotation and the identity vault.

    POST /v1/projects/<p>/key/rotate                       {bits?}
    GET  /v1/projects/<p>/key/status
    POST /v1/projects/<p>/key/generations/<g>/destroy      {force?, reason?}
    POST /v1/projects/<p>/vault/reveal                     {subject, reason}
    POST /v1/projects/<p>/vault/erase                      {subject, reason}

All admin only; a refusal is audited like every other escalation attempt.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from api import context
from api.openapi import operation
from api.schemas.admin import (
    DestroyBody,
    ErasedSchema,
    GenerationStatusSchema,
    RepublishedSchema,
    RevealedSchema,
    RotateBody,
    RotatedSchema,
    VaultBody,
)
from api.schemas.common import SuccessSchema
from collector import keyring, roles, rotation, vault
from collector.audit import Actor
from collector.models import Role

bp = Blueprint("admin", __name__, url_prefix="/v1/projects/<int:project_id>")


def _optional_json() -> Any:
    """The JSON body, or an empty object when there is none."""
    return request.get_json(silent=True, force=True) or {}


def _admin(project_id: int, action: str) -> Actor:
    who = context.actor()
    if who.role != Role.ADMIN.value:
        roles.deny(context.db(), who, action, project_id)
    keyring.get_project(context.db(), project_id)
    return who


@bp.post("/key/rotate")
@operation(
    "Rotate the project key and republish its forms",
    "admin",
    body=RotateBody,
    response=RotatedSchema,
    errors=(409,),
)
def rotate(project_id: int) -> Response:
    """Activate a new key generation and republish every form with it."""
    who = _admin(project_id, "key.rotate")
    body = context.load(RotateBody(), _optional_json())
    bits = body["bits"] or context.instance().settings.rsa_bits
    row, republished = rotation.rotate_project(
        context.db(), project_id, context.instance().kek, bits=bits, actor=who
    )
    context.commit()
    return jsonify(
        {
            "generation": row.generation,
            "republished": RepublishedSchema(many=True).dump(republished),
        }
    )


@bp.get("/key/status")
@operation(
    "Key generations with pending envelopes and devices not updated",
    "admin",
    response=GenerationStatusSchema,
    many=True,
)
def status(project_id: int) -> Response:
    """Each generation with pending envelopes, last submission and devices not updated."""
    _admin(project_id, "key.status")
    return context.answer(
        GenerationStatusSchema(), rotation.status(context.db(), project_id), many=True
    )


@bp.post("/key/generations/<int:generation>/destroy")
@operation(
    "Destroy a retired key generation",
    "admin",
    body=DestroyBody,
    response=SuccessSchema,
    errors=(409,),
)
def destroy(project_id: int, generation: int) -> Response:
    """Destroy a retired generation (refused while still needed unless forced)."""
    who = _admin(project_id, "key.destroy")
    body = context.load(DestroyBody(), _optional_json())
    rotation.destroy(
        context.db(), project_id, generation, actor=who, force=body["force"], reason=body["reason"]
    )
    context.commit()
    return context.success()


@bp.post("/vault/reveal")
@operation(
    "Re-identify a subject (audited)",
    "admin",
    body=VaultBody,
    response=RevealedSchema,
    errors=(410,),
)
def reveal(project_id: int) -> Response:
    """Re-identify a subject (admin, with a reason; audited)."""
    who = _admin(project_id, "vault.reveal")
    body = context.load(VaultBody(), context.json_body())
    found = vault.reveal(
        context.db(),
        context.instance().kek,
        project_id,
        body["subject"],
        actor=who,
        reason=body["reason"],
    )
    context.commit()
    return context.answer(RevealedSchema(), found)


@bp.post("/vault/erase")
@operation("Erase a subject's originals (audited)", "admin", body=VaultBody, response=ErasedSchema)
def erase(project_id: int) -> Response:
    """Crypto-shred a subject's originals (admin, with a reason; audited)."""
    who = _admin(project_id, "vault.erase")
    body = context.load(VaultBody(), context.json_body())
    subject = vault.erase(
        context.db(), project_id, body["subject"], actor=who, reason=body["reason"]
    )
    context.commit()
    return context.answer(ErasedSchema(), {"success": True, "pseudonym": subject.pseudonym})

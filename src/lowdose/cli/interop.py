"""`lowdose export-fhir PATIENT` and `lowdose import-fhir PATIENT BUNDLE.json`: a record as a
FHIR R4 Bundle, and an EHR's medicines and conditions into a record.

Both read or write patient data, which the operator running the shell may not: they act as a
named user (`--as USERNAME`), signed in with that user's password like the web or API would,
so the same policy decides and the audit log names the user. The password comes from
LOWDOSE_PASSWORD, else one line on stdin with `--password-stdin`, else a hidden prompt. A
clinician with a second factor adds `--code`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lowdose.cli.inputs import emit_json, read_json
from lowdose.cli.ops import DatabaseUrl
from lowdose.cli.signin import AsUser, Code, PasswordStdin, signed_in
from lowdose.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("export-fhir")(export_fhir)
    app.command("import-fhir")(import_fhir)


def export_fhir(
    patient: Annotated[int, typer.Argument(help="Patient id.")],
    as_user: AsUser = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the Bundle to this file [default: stdout].")] = None,
    password_stdin: PasswordStdin = False,
    code: Code = None,
    json_out: Annotated[bool, typer.Option(
        "--json", help="With --out: print a JSON summary instead of a sentence.")] = False,
    database: DatabaseUrl = None,
) -> None:
    """Export a patient's record as a FHIR R4 collection Bundle."""
    from lowdose.services import fhir

    with signed_in(database, as_user, password_stdin, code) as (db, ctx):
        bundle = fhir.export_patient(db, ctx, patient, kind="collection")
    if out is None:
        emit_json(bundle)
        return
    _write(out, bundle)
    summary = {"file": str(out), "resources": len(bundle["entry"]), "patient_id": patient}
    if json_out:
        emit_json(summary)
    else:
        typer.echo(f"wrote {summary['resources']} FHIR resources of patient {patient} to {out}")


def import_fhir(
    patient: Annotated[int, typer.Argument(help="Patient id to import into.")],
    bundle: Annotated[str, typer.Argument(help="Bundle JSON file, or - for stdin.")],
    as_user: AsUser = None,
    password_stdin: PasswordStdin = False,
    code: Code = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    database: DatabaseUrl = None,
) -> None:
    """Add a FHIR Bundle's medicines and conditions to a patient's record (all or nothing)."""
    from lowdose.services import fhir

    if bundle == "-" and password_stdin:
        raise InputError("--password-stdin", "stdin already carries the Bundle; set "
                                              "LOWDOSE_PASSWORD instead")
    data = read_json(bundle, "BUNDLE")
    with signed_in(database, as_user, password_stdin, code) as (db, ctx):
        report = fhir.import_bundle(db, ctx, data, patient)
    if json_out:
        emit_json(report.to_dict())
        return
    for item in report.items:
        typer.echo(f"entry {item.index} {item.resource_type}: {item.outcome}: {item.message}")
    typer.echo(f"{report.added} added to patient {patient}'s record")


# ------------------------------------------------------------------------------ helpers


def _write(out: Path, bundle: object) -> None:
    try:
        out.write_text(json.dumps(bundle, indent=2, ensure_ascii=False) + "\n",
                       encoding="utf-8")
    except OSError as exc:
        raise InputError("--out", f"cannot write {out}: {exc.strerror}") from None

"""Use cases: the only layer that combines authorization, persistence and the clinical core.

Each public function is one transaction: load → authorize (`security.policy`) → compute (core)
→ store → audit. Interfaces (web, API, CLI) call these and nothing below them. Every function
takes the `Database` and a `Context` (who, when, from where) and returns frozen views with a
`to_dict()`. Errors: `lowdose.errors.InputError` for bad input (names the field), and
`services.errors.NotFound`, `Forbidden`, `Conflict`, `Unauthenticated`.

Modules: accounts, careteams, patients, medicines, courses, checkins, questionnaires,
procedures, screening, auditlog.
"""

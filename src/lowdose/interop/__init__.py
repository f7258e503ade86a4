"""Interfaces to other health software: FHIR R4 export and import, CDS Hooks 2.0, iCalendar.

Modules here translate between lowdose's own shapes and the standards' JSON; they build plain
dicts and do no I/O. The use cases that read and write the record live in `lowdose.services`.
"""

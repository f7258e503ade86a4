"""CDS Hooks 2.0 (being written)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

"""Studio pages: jobs (being built; see docs/studio.md)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

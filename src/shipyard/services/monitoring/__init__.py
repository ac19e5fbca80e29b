"""Drift and data-quality arithmetic for model monitoring (issue 14).

:mod:`.profile` profiles a reference column once and streams production values into counts
against it; :mod:`.metrics` turns those counts into Azure ML's drift and data-quality
metrics; :mod:`.compare` runs both over two tables or Parquet files.
"""

from __future__ import annotations

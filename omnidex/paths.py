"""Paths as people see them: moved to core.paths (the ground every layer may import)."""

from core.paths import is_clean, readable  # noqa: F401 (store/convert.py until it imports core.paths)

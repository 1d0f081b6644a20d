"""Backend-neutral conversions shared by the Edge and server stores.

Only the parts both backends must agree on live here (datetime encoding,
payload normalisation, id normalisation), so that a payload written through
one backend reads and filters the same way through the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

from core.paths import is_clean, readable


def rfc3339(dt: datetime) -> str:
    """ISO-8601 with an explicit offset: Qdrant reads naive strings as UTC anyway,
    but spelling the offset out keeps stored payloads unambiguous."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.isoformat()


def text_value(value: str) -> str:
    """A str either engine accepts: a file name's undecodable bytes (surrogate escapes) as U+FFFD."""
    return value if is_clean(value) else readable(value)


def normalize_payload_value(value: Any) -> Any:
    """JSON-safe payload value; datetimes become RFC 3339 strings so the datetime
    index (and DatetimeRange) can read them on either backend."""
    if isinstance(value, str):
        return text_value(value)
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return rfc3339(datetime(value.year, value.month, value.day))
    if isinstance(value, Mapping):
        return {str(k): normalize_payload_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [normalize_payload_value(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    return value


def normalize_payload(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    return {} if payload is None else {str(k): normalize_payload_value(v) for k, v in payload.items()}


def point_id_str(point_id: Any) -> str:
    """Both engines hand uuid ids back as uuid.UUID (Edge) or str (server); Omnidex uses str."""
    return str(point_id)

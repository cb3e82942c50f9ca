"""What every view store's history paging shares: instants as view text, keyset tokens.

History is newest first by (creation time, key); a page's continuation token is the
last item's pair, so the next page is a keyset seek that costs the same however deep it
is. The token is opaque to clients: base64url of a JSON pair, refused with
`InvalidContinuation` when it is anything else.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from projections.base import timestamp
from services.ports import InvalidContinuation


def instant(moment: datetime, name: str) -> str:
    """`moment` as the fixed-width UTC text views store; refuses a naive datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"{name} must be timezone-aware")
    return timestamp(moment)


def encode_continuation(created_at: str, key: str) -> str:
    raw = json.dumps([created_at, key], separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_continuation(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, key = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as error:
        raise InvalidContinuation("the continuation token is not one this API issued") from error
    if not isinstance(created_at, str) or not isinstance(key, str):
        raise InvalidContinuation("the continuation token is not one this API issued")
    return created_at, key

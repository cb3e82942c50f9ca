"""Client-given URLs checked where they are handed over, and every refusal on the record.

Checking a URL resolves its host, so the check's answer must not say what the lookup
found: every refused destination answers the one message `RefusedDestination.answer`
gives, and the reason (does not resolve, points at a loopback address…) goes into a
`DestinationRefused` event of the day's stream instead, for whoever investigates. A
requester's refused `callback_url` also takes a unit of their daily quota, as a request
does, so probing the network costs what generating does (and stops at the same limit).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit
from uuid import uuid4

from domain.access import Principal
from domain.destinations import DestinationRefused
from domain.streams import refusals_stream
from services.audit_reads import append_daily
from services.context import Platform
from services.destinations import Destination, RefusedDestination, check_destination
from services.quota import consume_quota


def checked_destination(
    platform: Platform,
    principal: Principal,
    field: Literal["callback_url", "webhook_url"],
    url: str,
) -> Destination:
    """`url`'s destination, or RefusedDestination after the refusal is counted and recorded.

    QuotaExceeded instead when the refused attempt finds the caller's quota used up.
    """
    try:
        return check_destination(
            url, platform.resolver, allow_private=platform.settings.webhook_allow_private
        )
    except RefusedDestination as refused:
        if field == "callback_url":  # a unit no generation will hold: it counts the attempt
            consume_quota(platform, principal, uuid4())
        _record(platform, principal, field, url, refused)
        raise


def _record(
    platform: Platform,
    principal: Principal,
    field: Literal["callback_url", "webhook_url"],
    url: str,
    refused: RefusedDestination,
) -> None:
    payload = DestinationRefused(
        user_id=principal.user_id,
        department_id=principal.department_id,
        field=field,
        host=_host(url),
        reason=str(refused),
    )
    append_daily(platform.repository, refusals_stream(platform.clock().date()), payload, principal)


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "")[:255]
    except ValueError:  # refused for its shape: there is no host to name
        return ""

"""HTTP triggers for reading the audit trail: one stream, and the filtered event feed.

`GET /v1/audit/events` answers NDJSON a page at a time. An Azure Functions Python
`HttpResponse` carries its whole body (streaming needs the separate FastAPI-based
extension), so the feed is paged rather than streamed: each page is at most `limit`
events (default and maximum 1000), the `Link` header with `rel="next"` carries the next
page's URL while the log has more, and `Audit-After` is where this page stopped, to
poll for newer events later.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

import azure.functions as func

from bootstrap import platform
from functions.http_support import (
    CURSOR_MAX_LENGTH,
    CURSOR_PATTERN,
    api,
    authenticate,
    json_response,
    query_cursor,
    query_instant,
    query_limit,
)
from functions.problems import FORBIDDEN, INVALID_PARAMETER, NOT_FOUND, Problem
from functions.responses import AuditStream, SubjectStreams
from functions.routes import (
    DATE_TIME,
    Answer,
    Header,
    Routes,
    integer_parameter,
    path_parameter,
    query_parameter,
)
from services.audit_export import envelope, jsonl_lines
from services.audit_log import (
    MAX_PAGE_EVENTS,
    SUBJECT_STREAMS_ROUTE,
    EventFilter,
    about_subject,
    audit_stream,
    audit_subject_streams,
    feed_page,
)
from services.audit_story import story

blueprint = func.Blueprint()
routes = Routes(blueprint, tag="audit")

FEED_ROUTE = "v1/audit/events"


@routes.declare(
    "v1/audit/streams/{stream_id}",
    "GET",
    "One stream's events with their hashes",
    (Answer(200, "The stream", AuditStream),),
    (FORBIDDEN, NOT_FOUND),
    (path_parameter("stream_id"),),
)
@api
def get_audit_stream(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    stream_id = req.route_params["stream_id"]
    events = audit_stream(platform(), principal, stream_id)
    answer = AuditStream.model_validate(
        {
            "stream_id": stream_id,
            "events": [envelope(e) for e in events],
            "story": list(story(events)),
        }
    )
    return json_response(answer)


@routes.declare(
    FEED_ROUTE,
    "GET",
    "The event feed as NDJSON, one `AuditEvent` a line, a page at a time",
    (
        Answer(
            200,
            "One page; `Link: rel=next` while the log has more",
            other_media={"application/x-ndjson": {"schema": {"type": "string"}}},
            headers=(
                Header("Audit-After", "where this page stopped", required=False),
                Header("Link", "the next page", required=False),
            ),
        ),
    ),
    (FORBIDDEN, INVALID_PARAMETER),
    (
        query_parameter("from", "recorded at or after (with a UTC offset)", **DATE_TIME),
        query_parameter("to", "recorded before (with a UTC offset)", **DATE_TIME),
        query_parameter("type", "event types, comma-separated"),
        query_parameter("user_id", "events the person acted"),
        query_parameter("department_id"),
        query_parameter("subject_id", "every event about the person, their generations' steps too"),
        integer_parameter("limit", 1, MAX_PAGE_EVENTS),
        query_parameter(
            "after",
            "`Audit-After` of the previous page",
            pattern=CURSOR_PATTERN,
            maxLength=CURSOR_MAX_LENGTH,
        ),
    ),
)
@api
def get_audit_events(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    wanted = _filter(req)
    limit = query_limit(req, MAX_PAGE_EVENTS, default=MAX_PAGE_EVENTS)
    after = query_cursor(req, "after")
    page = feed_page(platform(), principal, wanted, after=after, limit=limit, route=FEED_ROUTE)
    # The console reads the paging headers; on Azure it is on another origin (CORS).
    headers = {
        "Content-Type": "application/x-ndjson",
        "Access-Control-Expose-Headers": "Link, Audit-After",
    }
    if page.after is not None:
        headers["Audit-After"] = page.after
    if page.more and page.after is not None:
        query = {key: value for key, value in req.params.items() if key != "after"}
        next_url = f"/api/{FEED_ROUTE}?{urlencode({**query, 'after': page.after})}"
        headers["Link"] = f'<{next_url}>; rel="next"'
    return func.HttpResponse("".join(jsonl_lines(page.events)), status_code=200, headers=headers)


@routes.declare(
    SUBJECT_STREAMS_ROUTE,
    "GET",
    "The streams that concern a person, with their events about them (a recorded read)",
    (
        Answer(
            200,
            "The streams; none when the log holds nothing about the person",
            SubjectStreams,
        ),
    ),
    (FORBIDDEN,),
    (path_parameter("user_id"),),
)
@api
def get_subject_streams(req: func.HttpRequest) -> func.HttpResponse:
    principal = authenticate(req)
    subject_id = req.route_params["user_id"]
    streams = audit_subject_streams(platform(), principal, subject_id)
    listed = [{"stream_id": s.stream_id, "kind": s.kind, "events": len(s.events)} for s in streams]
    return json_response(
        SubjectStreams.model_validate({"subject_id": subject_id, "streams": listed})
    )


def _filter(req: func.HttpRequest) -> EventFilter:
    # Repeated query parameters arrive joined with commas (as the Functions host does).
    types = frozenset(t for t in (req.params.get("type") or "").split(",") if t)
    subject_id = req.params.get("subject_id") or None
    try:
        wanted = EventFilter(
            recorded_from=query_instant(req, "from"),
            recorded_to=query_instant(req, "to"),
            types=types,
            user_id=req.params.get("user_id") or None,
            department_id=req.params.get("department_id") or None,
            subject_id=subject_id,
        )
    except ValueError as error:
        raise Problem(INVALID_PARAMETER, str(error)) from None
    if subject_id is None:
        return wanted
    return replace(wanted, subject_streams=about_subject(platform(), subject_id))

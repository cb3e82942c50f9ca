"""Sends webhook POSTs with httpx: one pooled client, redirects not followed.

A redirect is answered as the receiver's status (a failure), not followed: a signed
notification goes to the registered URL or nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from services.webhooks import WebhookSendError


class HttpxWebhookSender:
    """Implements `services.webhooks.WebhookSender`."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self._client = client or httpx.Client(follow_redirects=False)

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> int:
        try:
            response = self._client.post(url, content=body, headers=dict(headers), timeout=timeout)
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise WebhookSendError(f"{type(error).__name__}: {error}") from error
        return response.status_code

    def close(self) -> None:
        self._client.close()

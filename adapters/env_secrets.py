"""Secrets from environment variables: the embedded default's Key Vault twin.

The secret `openai-api-key` is read from `DONATELLO_SECRET_OPENAI_API_KEY`: the name
upper-cased, dashes turned into underscores. Key Vault names allow only letters, digits
and dashes and are case-insensitive, so this mapping is one-to-one on valid names.

An empty variable counts as unset, as it does for every other setting: a blank app
setting should fail as a missing key, not be sent to a provider as one.

Values are read on every call, never cached: changing the variable changes the secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from services.ports import SecretNotFound, check_secret_name

PREFIX = "DONATELLO_SECRET_"


def variable_for(name: str) -> str:
    """The environment variable that holds the secret `name`."""
    return PREFIX + check_secret_name(name).upper().replace("-", "_")


class EnvSecrets:
    """Implements `services.ports.SecretSource`."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        self._environ = environ

    def get(self, name: str) -> str:
        value = self._environ.get(variable_for(name))
        if not value:
            raise SecretNotFound(name)
        return value

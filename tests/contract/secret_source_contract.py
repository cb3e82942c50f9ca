"""The SecretSource port's contract, written once for every adapter.

Use it by subclassing in a `test_*.py` module and providing two fixtures: `source`, the
adapter under test, and `put_secret`, which stores a secret where that adapter reads
from (an environment mapping, a vault):

    class TestKeyVaultSecrets(SecretSourceContract):
        @pytest.fixture
        def source(self, ...) -> SecretSource: ...

        @pytest.fixture
        def put_secret(self, ...) -> PutSecret: ...
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest

from services.ports import SecretNotFound, SecretSource

PutSecret = Callable[[str, str], None]

# Provider keys are opaque: quotes, `=`, `+`, `/`, non-ASCII and newlines must survive.
AWKWARD_VALUE = 'sk-proj-"Zx9+/=="\n-----END-----\nmotörhead ✓ ' + "k" * 300

INVALID_NAMES = [
    "",
    "openai_api_key",
    "openai.api.key",
    "openai/api-key",
    "../openai-api-key",
    "openai api key",
    "clé-openai",
    "k" * 128,
]


def unique_name(prefix: str = "provider-api-key") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class SecretSourceContract:
    @pytest.fixture
    def source(self) -> SecretSource:
        raise NotImplementedError("an adapter's test class provides the source")

    @pytest.fixture
    def put_secret(self) -> PutSecret:
        raise NotImplementedError("an adapter's test class provides put_secret")

    def test_returns_the_stored_value_unchanged(
        self, source: SecretSource, put_secret: PutSecret
    ) -> None:
        name = unique_name()
        put_secret(name, AWKWARD_VALUE)
        assert source.get(name) == AWKWARD_VALUE

    def test_names_are_case_insensitive(self, source: SecretSource, put_secret: PutSecret) -> None:
        name = unique_name("Azure-OpenAI-Key")
        put_secret(name, "value")
        assert source.get(name.lower()) == "value"
        assert source.get(name.upper()) == "value"

    def test_secrets_are_independent(self, source: SecretSource, put_secret: PutSecret) -> None:
        # "a-b" and "ab" must not meet in any encoding of names an adapter uses.
        dashed, joined = unique_name("openai-key"), unique_name("openaikey")
        put_secret(dashed, "dashed")
        put_secret(joined, "joined")
        assert (source.get(dashed), source.get(joined)) == ("dashed", "joined")

    def test_a_missing_secret_raises_secret_not_found(self, source: SecretSource) -> None:
        name = unique_name("never-stored")
        with pytest.raises(SecretNotFound) as raised:
            source.get(name)
        assert isinstance(raised.value, KeyError)
        assert raised.value.name == name
        assert name in str(raised.value)

    @pytest.mark.parametrize("name", INVALID_NAMES)
    def test_invalid_names_are_refused(self, source: SecretSource, name: str) -> None:
        with pytest.raises(ValueError, match="invalid secret name"):
            source.get(name)

    def test_the_longest_valid_name_works(
        self, source: SecretSource, put_secret: PutSecret
    ) -> None:
        name = unique_name().ljust(127, "x")
        put_secret(name, "long-named")
        assert source.get(name) == "long-named"

    def test_concurrent_readers_each_get_their_secret(
        self, source: SecretSource, put_secret: PutSecret
    ) -> None:
        names = {unique_name(f"provider-{n}"): f"value-{n}" for n in range(4)}
        for name, value in names.items():
            put_secret(name, value)
        results: list[tuple[str, str]] = []
        errors: list[BaseException] = []
        start = threading.Barrier(16)

        def read(name: str) -> None:
            try:
                start.wait()
                for _ in range(5):
                    results.append((name, source.get(name)))
            except BaseException as error:  # surfaced below, in the test's thread
                errors.append(error)

        threads = [threading.Thread(target=read, args=(name,)) for name in names for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(results) == 16 * 5
        assert all(value == names[name] for name, value in results)

"""EnvSecrets: the SecretSource contract, plus how names become environment variables."""

from __future__ import annotations

import pytest

from adapters.env_secrets import EnvSecrets, variable_for
from services.ports import SecretNotFound, SecretSource
from tests.contract.secret_source_contract import PutSecret, SecretSourceContract


class TestEnvSecrets(SecretSourceContract):
    @pytest.fixture
    def environ(self) -> dict[str, str]:
        return {}

    @pytest.fixture
    def source(self, environ: dict[str, str]) -> SecretSource:
        return EnvSecrets(environ)

    @pytest.fixture
    def put_secret(self, environ: dict[str, str]) -> PutSecret:
        def put(name: str, value: str) -> None:
            environ[variable_for(name)] = value

        return put


def test_a_name_becomes_an_upper_case_variable_with_underscores() -> None:
    assert variable_for("azure-openai-api-key") == "DONATELLO_SECRET_AZURE_OPENAI_API_KEY"
    assert EnvSecrets({"DONATELLO_SECRET_OPENAI_API_KEY": "sk-1"}).get("openai-api-key") == "sk-1"


def test_an_empty_variable_counts_as_missing() -> None:
    with pytest.raises(SecretNotFound):
        EnvSecrets({"DONATELLO_SECRET_OPENAI_API_KEY": ""}).get("openai-api-key")


def test_reads_the_process_environment_on_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    source = EnvSecrets()
    monkeypatch.setenv("DONATELLO_SECRET_STABILITY_API_KEY", "first")
    assert source.get("stability-api-key") == "first"
    monkeypatch.setenv("DONATELLO_SECRET_STABILITY_API_KEY", "rotated")
    assert source.get("stability-api-key") == "rotated"

"""The retention period: seven calendar years, never fewer."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.retention import retained_until
from services.settings import Settings, SettingsError


def test_a_record_is_kept_until_the_same_moment_seven_years_on() -> None:
    recorded = datetime(2026, 11, 23, 17, 30, tzinfo=UTC)
    assert retained_until(recorded, 7) == datetime(2033, 11, 23, 17, 30, tzinfo=UTC)


def test_a_leap_day_is_kept_until_the_first_of_march() -> None:
    recorded = datetime(2028, 2, 29, 9, 0, tzinfo=UTC)
    assert retained_until(recorded, 7) == datetime(2035, 3, 1, 9, 0, tzinfo=UTC)


def test_less_than_seven_years_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 7"):
        retained_until(datetime(2026, 1, 1, tzinfo=UTC), 6)


def test_the_setting_defaults_to_seven_and_may_only_grow() -> None:
    assert Settings.from_env({}).retention_years == 7
    assert Settings.from_env({"DONATELLO_RETENTION_YEARS": "10"}).retention_years == 10
    with pytest.raises(SettingsError, match="DONATELLO_RETENTION_YEARS"):
        Settings.from_env({"DONATELLO_RETENTION_YEARS": "5"})


def test_key_vault_subject_keys_need_their_vault() -> None:
    with pytest.raises(SettingsError, match="DONATELLO_SUBJECT_KEY_VAULT_URL"):
        Settings.from_env({"DONATELLO_SUBJECT_KEYS": "keyvault"})

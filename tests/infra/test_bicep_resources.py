"""What the templates create agrees with what the code expects of it: the Cosmos DB
containers' layouts, the queues the triggers bind, the retention of seals and images,
the two vaults' erasure settings, and roles on the narrowest scope."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters import cosmos_event_store, cosmos_views
from domain.retention import MINIMUM_YEARS, retained_until
from services.settings import Settings
from tests.infra.bicep import BICEP, MAIN, ROOT, parse, references, resource_body

MODULES = BICEP / "modules"


def properties(module: str, symbol: str) -> dict[str, Any]:
    body = resource_body(parse(MODULES / module).resources()[symbol])
    return dict(body["properties"])


@pytest.mark.parametrize(
    ("symbol", "adapter"), [("events", cosmos_event_store), ("views", cosmos_views)]
)
def test_cosmos_containers_have_the_layout_the_adapters_create_on_an_emulator(
    symbol: str, adapter: Any
) -> None:
    container = properties("cosmos.bicep", symbol)["resource"]
    assert container["id"] == adapter.CONTAINER_ID
    assert container["partitionKey"]["paths"] == [adapter.PARTITION_KEY_PATH]
    assert container["indexingPolicy"] == adapter.INDEXING_POLICY
    assert container.get("uniqueKeyPolicy") == getattr(adapter, "UNIQUE_KEY_POLICY", None)


def test_events_are_partitioned_by_stream_and_nothing_in_cosmos_can_expire() -> None:
    assert properties("cosmos.bicep", "events")["resource"]["partitionKey"]["paths"] == [
        "/streamId"
    ]
    assert properties("cosmos.bicep", "leases")["resource"]["partitionKey"]["paths"] == ["/id"]
    # TTL off: no defaultTtl on any container (docs/retention.md, "Cosmos TTL").
    assert "defaultTtl" not in set(_keys(parse(MODULES / "cosmos.bicep").tree))


def _keys(node: Any) -> Any:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


def test_cosmos_has_one_write_region_session_consistency_and_continuous_backup() -> None:
    account = properties("cosmos.bicep", "account")
    assert account["enableMultipleWriteLocations"] is False
    assert account["consistencyPolicy"]["defaultConsistencyLevel"] == "Session"
    assert account["backupPolicy"]["type"] == "Continuous"
    assert account["disableLocalAuth"] is True


def _bound_queues() -> set[str]:
    """Queue names the Service Bus triggers bind, from the services' constants."""
    from services.generations import JOB_QUEUE
    from services.webhooks import WEBHOOK_QUEUE

    sources = "\n".join(p.read_text("utf-8") for p in (ROOT / "functions").glob("*.py"))
    bound = set(re.findall(r"queue_name=(\w+)", sources))
    assert bound == {"JOB_QUEUE", "WEBHOOK_QUEUE"}, "a new queue binding: add it here and in main"
    return {JOB_QUEUE, WEBHOOK_QUEUE}


def test_every_queue_the_app_binds_is_created() -> None:
    main = parse(MAIN)
    passed = main.modules["serviceBus"]["config"]["params"]["queueNames"]
    assert {main.variables[name] for name in passed} == _bound_queues()


def _seconds(duration: str) -> int:
    match = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", duration)
    assert match, duration
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def test_queues_match_the_local_twin_and_dead_letter() -> None:
    queue = properties("servicebus.bicep", "queues")
    twin = Settings()
    assert queue["maxDeliveryCount"] == twin.queue_max_delivery_count == 10
    assert _seconds(queue["lockDuration"]) == twin.queue_lock_duration_seconds
    assert queue["requiresDuplicateDetection"] is True
    assert queue["deadLetteringOnMessageExpiration"] is True
    namespace = resource_body(parse(MODULES / "servicebus.bicep").resources()["namespace"])
    assert namespace["sku"]["name"] != "Basic"  # no duplicate detection on Basic
    assert namespace["properties"]["disableLocalAuth"] is True


def _longest_retention_days() -> int:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return max(
        (retained_until(day, MINIMUM_YEARS) - day).days
        for day in (start + timedelta(days=n) for n in range(4 * 366))
    )


def test_seals_are_immutable_and_everything_is_kept_seven_years() -> None:
    days = parse(MAIN).variables["retentionDays"]
    assert days == _longest_retention_days() == 2557
    assert parse(MAIN).modules["dataStorage"]["config"]["params"]["retentionDays"] == (
        "retentionDays"
    )
    policy = properties("data-storage.bicep", "sealImmutability")
    assert policy["immutabilityPeriodSinceCreationInDays"] == "retentionDays"
    assert policy["allowProtectedAppendWrites"] is False
    rules = {
        r["name"]: r["definition"]
        for r in properties("data-storage.bicep", "lifecycle")["policy"]["rules"]
    }
    for rule in rules.values():
        assert rule["actions"]["baseBlob"]["delete"] == {
            "daysAfterCreationGreaterThan": "retentionDays"
        }
    assert rules["seals-expire"]["filters"]["prefixMatch"] == ["${sealContainerName}/"]


def test_images_move_to_cooler_tiers_but_never_to_archive() -> None:
    lifecycle = properties("data-storage.bicep", "lifecycle")["policy"]["rules"]
    images = next(r for r in lifecycle if r["name"] == "images-age-out")["definition"]
    assert images["filters"]["prefixMatch"] == ["${imageContainerName}/"]
    base = images["actions"]["baseBlob"]
    cool = base["tierToCool"]["daysAfterCreationGreaterThan"]
    cold = base["tierToCold"]["daysAfterCreationGreaterThan"]
    assert 0 < cool < cold < _longest_retention_days()
    # Archived blobs cannot be read through the API's short-lived links.
    assert "tierToArchive" not in base


def test_the_subject_key_vault_lets_erasure_purge_and_the_platform_vault_does_not() -> None:
    platform = properties("keyvault.bicep", "platformVault")
    subjects = properties("keyvault.bicep", "subjectKeyVault")
    for vault in (platform, subjects):
        assert vault["enableRbacAuthorization"] is True
        assert vault["enableSoftDelete"] is True
    assert platform["enablePurgeProtection"] is True
    assert "enablePurgeProtection" not in subjects
    assert subjects["softDeleteRetentionInDays"] == 7


def test_roles_sit_on_the_narrowest_scope() -> None:
    roles = parse(MODULES / "roles.bicep")
    existing = roles.resources(existing=True)
    scopes: dict[str, set[str]] = {}
    for resource in roles.resources().values():
        body = resource_body(resource)
        if resource["type"] != "Microsoft.Authorization/roleAssignments":
            continue
        named = list(references(body["properties"]["roleDefinitionId"]))
        role = next((r for r in named if r in roles.variables), None)
        if role is None:  # the custom signing role, checked below
            assert "contentCredentialsSigner" in named
            continue
        scope_symbol = next(r for r in references(body["scope"]) if r in existing)
        scopes.setdefault(role, set()).add(existing[scope_symbol]["type"].split("/", 1)[1])
    assert scopes["storageBlobDataContributor"] == {"storageAccounts/blobServices/containers"}
    assert scopes["serviceBusDataSender"] == {"namespaces/queues"}
    assert scopes["serviceBusDataReceiver"] == {"namespaces/queues"}
    assert scopes["keyVaultSecretsUser"] == {"vaults"}
    assert scopes["keyVaultSecretsOfficer"] == {"vaults"}
    officer = next(
        resource_body(r)
        for r in roles.resources().values()
        if "keyVaultSecretsOfficer" in set(references(resource_body(r).get("properties", {})))
    )
    assert officer["scope"] == "subjectKeyVault"
    signer = properties("roles.bicep", "contentCredentialsSigner")
    (permission,) = signer["permissions"]
    # Content Credentials: the app may sign with the vault's keys and do nothing else.
    assert permission["dataActions"] == ["Microsoft.KeyVault/vaults/keys/sign/action"]
    assert permission["actions"] == []
    (scope,) = signer["assignableScopes"]
    assert "platformVault.id" in set(references(scope))
    assert resource_body(roles.resources()["contentCredentialsSigning"])["scope"] == "platformVault"
    cosmos = properties("roles.bicep", "cosmosData")
    assert cosmos["scope"] == "${cosmosAccount.id}/dbs/${cosmosDatabaseName}"

"""Every Bicep file parses, every module is wired, and names and tags follow the convention
written down in docs/deploy.md ("Conventions")."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra.bicep import (
    BICEP,
    MAIN,
    bicep_files,
    module_template,
    parse,
    references,
    resource_body,
)

# Resource type -> (allowed abbreviations, Azure's longest name).
NAMING: dict[str, tuple[set[str], int]] = {
    "Microsoft.OperationalInsights/workspaces": ({"log"}, 63),
    "Microsoft.Insights/components": ({"appi"}, 255),
    "Microsoft.Storage/storageAccounts": ({"st"}, 24),
    "Microsoft.DocumentDB/databaseAccounts": ({"cosmos"}, 44),
    "Microsoft.ServiceBus/namespaces": ({"sb"}, 50),
    "Microsoft.KeyVault/vaults": ({"kv", "kvs"}, 24),
    "Microsoft.Web/serverfarms": ({"asp"}, 40),
    "Microsoft.Web/sites": ({"func"}, 60),
    "Microsoft.Insights/actionGroups": ({"ag"}, 260),
    "Microsoft.Insights/scheduledQueryRules": ({"alert"}, 260),
    "Microsoft.Insights/metricAlerts": ({"alert"}, 260),
    "Microsoft.Consumption/budgets": ({"budget"}, 63),
}
# Types that take no tags: role assignments and diagnostic settings are extension
# resources, and budgets have no tags property.
TAGLESS = {
    "Microsoft.Authorization/roleAssignments",
    "Microsoft.Insights/diagnosticSettings",
    "Microsoft.Consumption/budgets",
    "Microsoft.Authorization/roleDefinitions",  # ARM takes no tags on a role definition
}
REQUIRED_TAGS = {
    "Environment": "environmentName",
    "Project": "projectName",
    "CostCenter": "costCenter",
    "Owner": "owner",
}
# Names whose location is not a region.
GLOBAL_TYPES = {"Microsoft.Insights/actionGroups", "Microsoft.Insights/metricAlerts"}
# Static Web Apps is offered in a few regions, none in Australia; the console there holds
# no data (public files, the same for everyone), so it has a region of its own.
OWN_REGION = {"Microsoft.Web/staticSites": "consoleLocation"}


def top_level_resources() -> list[tuple[str, str, dict[str, Any]]]:
    """(module symbol, resource symbol, resource) for each resource a module creates."""
    main = parse(MAIN)
    found = []
    for symbol in main.modules:
        for name, resource in module_template(main, symbol).resources().items():
            if resource["type"].count("/") == 1:
                found.append((symbol, name, resource))
    return found


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(BICEP)))
def test_every_bicep_file_parses(path: Path) -> None:
    template = parse(path)
    assert template.resources() or template.modules, f"{path.name} declares nothing"


def test_main_uses_every_module_file_once() -> None:
    main = parse(MAIN)
    used = sorted(module_template(main, s).path for s in main.modules)
    assert used == sorted(p.resolve() for p in (BICEP / "modules").glob("*.bicep"))


@pytest.mark.parametrize("symbol", sorted(parse(MAIN).modules))
def test_each_module_gets_its_required_params_and_no_unknown_ones(symbol: str) -> None:
    main = parse(MAIN)
    module = module_template(main, symbol)
    passed = set(main.modules[symbol]["config"]["params"])
    assert module.required_params - passed == set(), "required but not passed"
    assert passed - set(module.params) == set(), "passed but not declared"


@pytest.mark.parametrize("symbol", sorted(parse(MAIN).modules))
def test_every_module_output_is_used_by_main(symbol: str) -> None:
    main = parse(MAIN)
    used = set(references(main.tree))
    outputs = module_template(main, symbol).outputs
    assert {f"{symbol}.outputs.{name}" for name in outputs} - used == set()


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(BICEP)))
def test_every_param_is_used(path: Path) -> None:
    template = parse(path)
    body = {k: v for k, v in template.tree.items() if k != "parameters"}
    used = {ref.split(".")[0] for ref in references(body)}
    assert set(template.params) - used == set()


def test_the_tags_are_the_four_the_organisation_requires() -> None:
    main = parse(MAIN)
    assert main.variables["tags"] == REQUIRED_TAGS
    assert set(REQUIRED_TAGS.values()) <= set(main.params)


@pytest.mark.parametrize(
    ("symbol", "name", "resource"),
    [r for r in top_level_resources() if r[2]["type"] not in TAGLESS],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_every_taggable_resource_carries_the_tags(
    symbol: str, name: str, resource: dict[str, Any]
) -> None:
    tags: Any = resource_body(resource).get("tags")
    # `tags`, or the tags plus a resource's own (azd's service tag on the Function App).
    if isinstance(tags, dict):
        assert tags["function"]["type"] == "union"
        tags = tags["function"]["parameters"]["arg_1"]
    assert tags == "tags"
    assert parse(MAIN).modules[symbol]["config"]["params"]["tags"] == "tags"


@pytest.mark.parametrize(
    ("symbol", "name", "resource"),
    [r for r in top_level_resources() if "location" in resource_body(r[2])],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_every_resource_is_in_the_chosen_region(
    symbol: str, name: str, resource: dict[str, Any]
) -> None:
    expected = "global" if resource["type"] in GLOBAL_TYPES else "location"
    assert resource_body(resource)["location"] == expected
    if expected == "location":
        region = OWN_REGION.get(resource["type"], "location")
        assert parse(MAIN).modules[symbol]["config"]["params"]["location"] == region


def test_the_region_and_its_pair_default_to_australia() -> None:
    params = parse(MAIN).params
    assert params["location"]["default"] == "australiaeast"
    assert params["pairedLocation"]["default"] == "australiasoutheast"


def _longest(main_params: dict[str, dict[str, Any]], name: str) -> int:
    """The longest value a `<project>` or `<environment>` part can take."""
    param = main_params[name]
    for decorator in param["decorators"]:
        if decorator["type"] == "max_length":
            return int(decorator["argument"])
        if decorator["type"] == "allowed":
            return max(len(str(v)) for v in decorator["argument"])
    raise AssertionError(f"{name} has no bound on its length")


def _name_given_by_main(symbol: str, resource: dict[str, Any]) -> Any:
    """The expression main.bicep passes for the module param that names ``resource``."""
    name = resource_body(resource)["name"]
    param = re.fullmatch(r"\$\{(\w+)\}(-[a-z-]+)?|(\w+)", name)
    assert param, f"{name!r} is not built from a module parameter"
    passed = parse(MAIN).modules[symbol]["config"]["params"][param[1] or param[3]]
    return passed if param[2] is None else f"{passed}{param[2]}"


@pytest.mark.parametrize(
    ("symbol", "name", "resource"),
    [r for r in top_level_resources() if r[2]["type"] in NAMING],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_names_follow_the_convention_and_fit_azures_limits(
    symbol: str, name: str, resource: dict[str, Any]
) -> None:
    main = parse(MAIN)
    abbreviations, limit = NAMING[resource["type"]]
    suffix = main.variables["suffix"]["function"]
    assert suffix["type"] == "take"
    stem = (
        _longest(main.params, "projectName")
        + _longest(main.params, "environmentName")
        + int(suffix["parameters"]["number_to_take"])
    )
    given = _name_given_by_main(symbol, resource)
    if resource["type"] == "Microsoft.Storage/storageAccounts":
        # st<project><environment><suffix><role>, lowercase letters and digits, cut to 24.
        assert main.variables["compactName"] == "${projectName}${environmentName}${suffix}"
        take = given["function"]
        assert take["type"] == "take"
        assert re.fullmatch(r"st\$\{compactName\}[a-z0-9]+", take["parameters"]["original_value"])
        assert take["parameters"]["number_to_take"] <= limit
        assert stem + len("st") <= limit, "the role part would be cut off entirely"
        return
    # <abbreviation>-<project>-<environment>-<suffix>[-<purpose>]
    assert main.variables["baseName"] == "${projectName}-${environmentName}-${suffix}"
    match = re.fullmatch(r"([a-z]+)-\$\{baseName\}((?:-[a-z]+)*)", given)
    assert match, f"{given!r} does not follow <abbreviation>-<baseName>"
    assert match[1] in abbreviations
    assert len(match[1]) + stem + 3 + len(match[2]) <= limit


def _bicepparam_values(path: Path) -> dict[str, str]:
    text = path.read_text("utf-8")
    assert re.search(r"^using 'main\.bicep'$", text, re.MULTILINE)
    return dict(re.findall(r"^param (\w+) = (.+)$", text, re.MULTILINE))


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_each_environment_has_a_parameter_file_that_fits_main(environment: str) -> None:
    main = parse(MAIN)
    values = _bicepparam_values(BICEP / f"{environment}.bicepparam")
    assert set(values) - set(main.params) == set(), "sets params main does not declare"
    assert main.required_params - set(values) == set(), "leaves required params unset"
    assert values["environmentName"] == f"'{environment}'"

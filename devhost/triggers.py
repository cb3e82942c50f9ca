"""Read the triggers a FunctionApp declares, the way the Functions host reads them.

The host binds only what the function declares: the trigger argument and, if the
function asks for it, ``context``. Any other binding (a ``func.Out`` output, an input
binding) would silently behave differently here than on Azure, so it is refused.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import azure.functions as func
from azure.functions._abc import RetryContext, TraceContext
from azure.functions.decorators.function_app import Function

from devhost.ncrontab import parse_timespan

_ALL_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"})
_APP_SETTING = re.compile(r"%([^%]+)%")
# Triggers the embedded host feeds differently unless asked to run them (`discover`'s
# `change_feed`): on the embedded shape, projections read the local log through a
# background service instead of the Cosmos DB change feed.
_FED_BY_BACKGROUND_SERVICES = frozenset({"cosmosDBTrigger"})


class UnsupportedBindingError(ValueError):
    """The app declares something the embedded host cannot run faithfully."""


@dataclass(frozen=True, slots=True)
class FunctionBinding:
    """A user function and how to call it with its trigger value."""

    function_name: str
    arg_name: str
    user_function: Callable[..., Any]
    wants_context: bool

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.user_function)

    def arguments(self, trigger_value: object) -> dict[str, object]:
        arguments: dict[str, object] = {self.arg_name: trigger_value}
        if self.wants_context:
            arguments["context"] = LocalContext(self.function_name, self.user_function)
        return arguments

    def call_blocking(self, trigger_value: object) -> object:
        """Call from a worker thread: async functions get their own event loop there."""
        result = self.user_function(**self.arguments(trigger_value))
        if inspect.iscoroutine(result):
            return asyncio.run(result)
        return result


@dataclass(frozen=True, slots=True)
class HttpTrigger:
    binding: FunctionBinding
    route: str
    methods: frozenset[str]


@dataclass(frozen=True, slots=True)
class ServiceBusTrigger:
    binding: FunctionBinding
    queue_name: str
    connection: str


@dataclass(frozen=True, slots=True)
class TimerTrigger:
    binding: FunctionBinding
    schedule: str
    run_on_startup: bool


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """A function-level retry policy (``@app.retry``): how a failed invocation is re-run."""

    strategy: str  # "exponential_backoff" or "fixed_delay"
    max_retry_count: int  # -1: until it succeeds
    delay_interval: timedelta | None = None
    minimum_interval: timedelta | None = None
    maximum_interval: timedelta | None = None

    def delay(self, retry: int) -> timedelta:
        """The wait before re-run number ``retry`` (1-based)."""
        if self.strategy == "fixed_delay":
            return self.delay_interval or timedelta(0)
        low = (self.minimum_interval or timedelta(0)).total_seconds()
        high = self.maximum_interval.total_seconds() if self.maximum_interval else low
        # The exponent is capped so that endless retries never overflow a timedelta.
        return timedelta(seconds=min(low * 2.0 ** min(retry - 1, 60), high))

    def allows(self, retry: int) -> bool:
        return self.max_retry_count < 0 or retry <= self.max_retry_count


@dataclass(frozen=True, slots=True)
class CosmosDbTrigger:
    """A Cosmos DB change-feed trigger, with its lease and polling settings."""

    binding: FunctionBinding
    connection: str
    database_name: str
    container_name: str
    lease_container_name: str
    lease_container_prefix: str
    create_lease_container_if_not_exists: bool
    start_from_beginning: bool
    max_items_per_invocation: int | None
    feed_poll_delay: timedelta
    retry: RetryPolicy | None


@dataclass(frozen=True, slots=True)
class SkippedTrigger:
    function_name: str
    trigger_type: str
    reason: str


@dataclass(frozen=True, slots=True)
class AppTriggers:
    http: tuple[HttpTrigger, ...]
    service_bus: tuple[ServiceBusTrigger, ...]
    timers: tuple[TimerTrigger, ...]
    skipped: tuple[SkippedTrigger, ...]
    cosmos_db: tuple[CosmosDbTrigger, ...] = ()


def discover(
    app: func.FunctionApp, settings: Mapping[str, str] | None = None, *, change_feed: bool = False
) -> AppTriggers:
    """Every trigger of ``app``; ``%Name%`` placeholders resolve from ``settings`` (os.environ).

    Cosmos DB triggers are listed to run only with ``change_feed`` (the app is configured
    for Cosmos DB); otherwise they are skipped, their work done by a background service.
    """
    app_settings = os.environ if settings is None else settings
    http: list[HttpTrigger] = []
    service_bus: list[ServiceBusTrigger] = []
    timers: list[TimerTrigger] = []
    cosmos_db: list[CosmosDbTrigger] = []
    skipped: list[SkippedTrigger] = []
    for function in app.get_functions():
        name = str(function.get_function_name())
        trigger = function.get_trigger()
        if trigger is None:
            raise UnsupportedBindingError(f"function {name!r} has no trigger")
        spec: dict[str, Any] = trigger.get_dict_repr()
        kind = str(spec["type"])
        if kind in _FED_BY_BACKGROUND_SERVICES and not change_feed:
            skipped.append(SkippedTrigger(name, kind, "fed by a background service locally"))
            continue
        if kind not in {"httpTrigger", "serviceBusTrigger", "timerTrigger", "cosmosDBTrigger"}:
            raise UnsupportedBindingError(f"function {name!r}: trigger {kind!r} is not supported")
        binding = _binding(function, str(spec["name"]))
        if kind == "cosmosDBTrigger":
            cosmos_db.append(_cosmos_db_trigger(function, binding, spec, app_settings))
        elif kind == "httpTrigger":
            methods = spec.get("methods") or _ALL_METHODS
            http.append(
                HttpTrigger(
                    binding,
                    route=str(spec.get("route") or name),
                    methods=frozenset(_method_name(method) for method in methods),
                )
            )
        elif kind == "serviceBusTrigger":
            if "topicName" in spec:
                raise UnsupportedBindingError(f"function {name!r}: topic subscriptions")
            service_bus.append(
                ServiceBusTrigger(
                    binding,
                    queue_name=resolve_setting(str(spec["queueName"]), app_settings),
                    connection=str(spec.get("connection", "")),
                )
            )
        else:
            timers.append(
                TimerTrigger(
                    binding,
                    schedule=resolve_setting(str(spec["schedule"]), app_settings),
                    run_on_startup=bool(spec.get("runOnStartup", False)),
                )
            )
    return AppTriggers(
        tuple(http), tuple(service_bus), tuple(timers), tuple(skipped), tuple(cosmos_db)
    )


def resolve_setting(value: str, settings: Mapping[str, str]) -> str:
    """Binding expressions like ``%QueueName%`` name an app setting, as on Azure."""

    def lookup(match: re.Match[str]) -> str:
        key = match[1]
        if key not in settings:
            raise UnsupportedBindingError(f"app setting {key!r} (from {value!r}) is not set")
        return settings[key]

    return _APP_SETTING.sub(lookup, value)


def _cosmos_db_trigger(
    function: Function,
    binding: FunctionBinding,
    spec: Mapping[str, Any],
    settings: Mapping[str, str],
) -> CosmosDbTrigger:
    name = binding.function_name
    for unsupported in ("leaseConnection", "leaseDatabaseName", "startFromTime"):
        if spec.get(unsupported) is not None:
            raise UnsupportedBindingError(f"function {name!r}: {unsupported} is not supported")
    poll_delay_ms = spec.get("feedPollDelay")
    return CosmosDbTrigger(
        binding,
        connection=str(spec["connection"]),
        database_name=resolve_setting(str(spec["databaseName"]), settings),
        container_name=resolve_setting(str(spec["containerName"]), settings),
        # The Functions host's defaults for what the binding leaves out.
        lease_container_name=resolve_setting(
            str(spec.get("leaseContainerName") or "leases"), settings
        ),
        lease_container_prefix=str(spec.get("leaseContainerPrefix") or ""),
        create_lease_container_if_not_exists=bool(spec.get("createLeaseContainerIfNotExists")),
        start_from_beginning=bool(spec.get("startFromBeginning")),
        max_items_per_invocation=spec.get("maxItemsPerInvocation"),
        feed_poll_delay=timedelta(milliseconds=5000 if poll_delay_ms is None else poll_delay_ms),
        retry=_retry_policy(function),
    )


def _retry_policy(function: Function) -> RetryPolicy | None:
    setting = function.get_setting("retry_policy")
    if setting is None:
        return None
    spec = setting.get_dict_repr()

    def interval(key: str) -> timedelta | None:
        value = spec.get(key)
        return None if value is None else parse_timespan(str(value))

    return RetryPolicy(
        strategy=str(spec["strategy"]),
        max_retry_count=int(spec["max_retry_count"]),
        delay_interval=interval("delay_interval"),
        minimum_interval=interval("minimum_interval"),
        maximum_interval=interval("maximum_interval"),
    )


def _binding(function: Function, arg_name: str) -> FunctionBinding:
    name = str(function.get_function_name())
    extra = [
        binding.name
        for binding in function.get_bindings()
        if binding.name not in {arg_name, "$return"}
    ]
    if extra:
        raise UnsupportedBindingError(
            f"function {name!r} declares bindings {extra} that the embedded host does not "
            "provide; use the ports in services/ instead"
        )
    user_function: Callable[..., Any] = function.get_user_function()
    parameters = inspect.signature(user_function).parameters
    if arg_name not in parameters:
        raise UnsupportedBindingError(f"function {name!r} has no parameter {arg_name!r}")
    required = {
        parameter.name
        for parameter in parameters.values()
        if parameter.default is inspect.Parameter.empty
        and parameter.kind not in {inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD}
    }
    unknown = required - {arg_name, "context"}
    if unknown:
        raise UnsupportedBindingError(
            f"function {name!r}: parameters {sorted(unknown)} are unbound"
        )
    return FunctionBinding(name, arg_name, user_function, wants_context="context" in parameters)


def _method_name(method: object) -> str:
    return str(getattr(method, "value", method)).upper()


class LocalContext(func.Context):
    """The invocation context the worker passes to functions that declare ``context``."""

    def __init__(self, function_name: str, user_function: Callable[..., Any]) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._thread_local_storage = threading.local()
        self._trace_context = _TraceContext(f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01")
        self._function_name = function_name
        self._function_directory = os.path.dirname(inspect.getfile(user_function))

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:  # the worker hands out an instance, not the type
        return self._thread_local_storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        # It retries change-feed batches by their policy but does not tell the function which
        # attempt this is; no function here asks.
        raise NotImplementedError("the embedded host does not report retry state")


class _TraceContext(TraceContext):
    """A fresh W3C trace per invocation: the embedded host has no upstream trace to join."""

    def __init__(self, trace_parent: str) -> None:
        self._trace_parent = trace_parent

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}

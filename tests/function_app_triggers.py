"""`function_app.app`'s triggers, indexed once for every test module that reads them.

`FunctionApp.get_functions()` may be called once per app: it registers the bindings it
indexes, and a second call fails on the duplicate names.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from function_app import app


@cache
def indexed() -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Each function's trigger binding, and the retry policy of those that have one."""
    triggers: dict[str, dict[str, Any]] = {}
    retry_policies: dict[str, dict[str, Any]] = {}
    for function in app.get_functions():
        trigger = function.get_trigger()
        assert trigger is not None, function.get_function_name()
        triggers[str(function.get_function_name())] = trigger.get_dict_repr()
        retry = function.get_setting("retry_policy")
        if retry is not None:
            retry_policies[str(function.get_function_name())] = retry.get_dict_repr()
    return triggers, retry_policies


def http_routes() -> dict[tuple[str, str], str]:
    """(route, method) to the function that serves it."""
    return {
        (str(d["route"]), str(getattr(m, "value", m))): name
        for name, d in indexed()[0].items()
        if d["type"] == "httpTrigger"
        for m in d["methods"]
    }

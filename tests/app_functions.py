"""`function_app.app`'s functions, indexed once: `get_functions()` may be called only once
per app (it registers the bindings it indexes), and several tests read them."""

from __future__ import annotations

from azure.functions.decorators.core import Trigger

from function_app import app

FUNCTIONS = tuple(app.get_functions())


def http_routes() -> list[tuple[str, str]]:
    """Every (method, route) the app serves over HTTP, as its bindings declare them."""
    routes = []
    for function in FUNCTIONS:
        trigger: Trigger | None = function.get_trigger()
        if trigger is not None and trigger.get_dict_repr()["type"] == "httpTrigger":
            binding = trigger.get_dict_repr()
            for method in binding["methods"]:
                routes.append((str(getattr(method, "value", method)), str(binding["route"])))
    return sorted(routes)

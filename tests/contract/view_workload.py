"""Generation lifecycles and the budget months they reserve against and charge to,
appended through a real `SqliteEventStore`: the log the view tests fold."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from decimal import Decimal
from enum import IntEnum
from typing import Any
from uuid import UUID, uuid4

from adapters.sqlite_event_store import SqliteEventStore
from domain import budget as b
from domain import generation as g
from domain.envelope import Actor, NewEvent
from domain.streams import budget_policy_stream, budget_stream, generation_stream
from tests.unit.test_projections import SEALED, requested

MANAGER = Actor(user_id="u-boss", roles=("Dept.Manager",), department_id="d-0")
POLICY = b.BudgetPolicy(
    monthly_limit_aud=Decimal("1.00"),
    enforcement=b.Enforcement.SOFT,
    strategy=b.Strategy.BALANCED,
)


class Stage(IntEnum):
    """Where a generation's lifecycle may stop, in the order it gets there."""

    REQUESTED = 0
    REJECTED = 1
    SCREENED = 2
    ROUTED = 3  # its reservation still held
    FAILED = 4
    GENERATED = 5  # not yet charged
    CHARGED = 6


def charged_image(
    gid: UUID, user: str, model: str, estimate: Decimal, month: Mapping[str, Any]
) -> tuple[g.ImageGenerated, b.CostCharged]:
    """An image that cost a cent less than its estimate, and its charge to `month`
    (the `department_id`, `period` and `generation_id` of the budget events)."""
    cost = estimate - Decimal("0.01")
    image = g.ImageGenerated(
        model_id=model,
        image_ref=f"{gid}.png",
        sha256="f" * 64,
        content_type="image/png",
        bytes=10,
        cost_aud=cost,
    )
    charged = b.CostCharged(
        **month, user_id=user, model_id=model, amount_aud=cost, reserved_aud=estimate
    )
    return image, charged


class Workload:
    """Appends lifecycles through `store`, its choices drawn from one seeded `rng`."""

    def __init__(self, store: SqliteEventStore, seed: int = 11) -> None:
        self.store = store
        self.rng = random.Random(seed)

    def append(self, stream: str, payloads: Sequence[g.Payload]) -> None:
        events = [
            NewEvent(
                type=p.TYPE, data=p.model_dump(mode="json"), actor=MANAGER, correlation_id=uuid4()
            )
            for p in payloads
        ]
        self.store.append(stream, len(self.store.read_stream(stream)), events)

    def set_policy(self, department: str) -> None:
        standing = b.BudgetSet(department_id=department, period=None, policy=POLICY)
        self.append(budget_policy_stream(department), [standing])

    def run(self, generations: int) -> None:
        """Standing policies for d-0 and d-1, then `generations` full lifecycles in
        March, each in one of them for one of its four users."""
        for department in ("d-0", "d-1"):
            self.set_policy(department)
        for _ in range(generations):
            department = self.rng.choice(["d-0", "d-1"])
            self.generation(department, f"u-{department}-{self.rng.randrange(4)}")

    def generation(
        self,
        department: str,
        user: str,
        period: str = "2026-03",
        stop_after: Stage | None = None,
    ) -> None:
        """One generation up to `stop_after`; without it, to the end, failing at the
        provider one time in five."""
        gid = uuid4()
        stream, month = generation_stream(gid), budget_stream(department, period)
        self.append(stream, [requested(gid, user, department)])
        if stop_after == Stage.REQUESTED:
            return
        if stop_after == Stage.REJECTED:
            self.append(
                stream, [g.PromptRejected(findings=(), reason="policy", policy_version="p")]
            )
            return
        self.append(
            stream, [g.PromptScreened(findings=(), redacted_prompt=SEALED, policy_version="p")]
        )
        if stop_after == Stage.SCREENED:
            return
        model = self.rng.choice(["m-a", "m-b"])
        estimate = Decimal(self.rng.choice(["0.04", "0.08", "0.12"]))
        keys = {"department_id": department, "period": period, "generation_id": gid}
        opening: list[g.Payload] = []
        if not self.store.read_stream(month):
            opening.append(b.BudgetSet(department_id=department, period=period, policy=POLICY))
        reservation = b.CostReserved(
            **keys, user_id=user, model_id=model, amount_aud=estimate, outcome="allowed"
        )
        self.append(month, [*opening, reservation])
        route = g.GenerationRouted(
            model_id=model,
            provider="local",
            ranked_models=(model,),
            estimated_cost_aud=estimate,
            budget_stream_id=month,
            budget_period=period,
            catalogue_version="c",
        )
        self.append(stream, [route])
        if stop_after == Stage.ROUTED:
            return
        if stop_after == Stage.FAILED or (stop_after is None and self.rng.random() < 0.2):
            self.append(stream, [g.GenerationFailed(reason="provider down", model_id=model)])
            self.append(
                month, [b.ReservationReleased(**keys, amount_aud=estimate, reason="failed")]
            )
            return
        image, charged = charged_image(gid, user, model, estimate, keys)
        self.append(stream, [image])
        if stop_after == Stage.GENERATED:
            return
        self.append(month, [charged])
        self.append(stream, [g.GenerationCharged(cost_aud=image.cost_aud, budget_stream_id=month)])

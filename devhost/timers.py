"""Run timer triggers on their NCRONTAB (or TimeSpan) schedules, one thread per timer.

As on Azure, an invocation that overruns skips the occurrences it covered instead of
queueing them, and ``past_due`` is set when an occurrence was missed altogether (here:
the process was suspended, e.g. a laptop asleep). Exceptions are logged; the schedule
goes on.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from azure.functions.timer import TimerRequest

from devhost.ncrontab import Schedule, parse_schedule
from devhost.threads import join_within
from devhost.triggers import TimerTrigger
from services.correlation import correlated

log = logging.getLogger("devhost.timers")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TimerRunner:
    def __init__(
        self, triggers: Sequence[TimerTrigger], *, clock: Callable[[], datetime] = _utc_now
    ) -> None:
        # Parse every schedule now, so a bad expression stops the host at start-up.
        self._timers = [(trigger, parse_schedule(trigger.schedule)) for trigger in triggers]
        self._clock = clock
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stopping.clear()
        for trigger, schedule in self._timers:
            thread = threading.Thread(
                target=self._run,
                args=(trigger, schedule),
                name=f"timer-{trigger.binding.function_name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop scheduling and wait up to ``timeout`` s for running invocations."""
        self._stopping.set()
        self._threads = join_within(self._threads, timeout, "timers")
        return not self._threads

    def _run(self, trigger: TimerTrigger, schedule: Schedule) -> None:
        last: datetime | None = None
        if trigger.run_on_startup:
            last = self._clock()
            self._fire(trigger, schedule, past_due=False, last=None, now=last)
        due = schedule.next_after(self._clock())
        while not self._stopping.wait(max((due - self._clock()).total_seconds(), 0)):
            now = self._clock()
            if now < due:  # woke early (clock adjustments): wait out the rest
                continue
            past_due = schedule.next_after(due) <= now
            self._fire(trigger, schedule, past_due=past_due, last=last, now=now)
            last = now
            due = schedule.next_after(max(self._clock(), due))

    def _fire(
        self,
        trigger: TimerTrigger,
        schedule: Schedule,
        *,
        past_due: bool,
        last: datetime | None,
        now: datetime,
    ) -> None:
        request = TimerRequest(
            past_due=past_due,
            schedule_status={
                "Last": (last or now).isoformat(),
                "Next": schedule.next_after(now).isoformat(),
                "LastUpdated": now.isoformat(),
            },
            schedule={"AdjustForDST": True},
        )
        try:
            with correlated(str(uuid.uuid4())):
                trigger.binding.call_blocking(request)
        except Exception:
            log.exception("timer function %s failed", trigger.binding.function_name)

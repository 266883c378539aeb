"""Run one job per product, at most ``max_concurrent`` at a time, wave after wave (non-production
environments before production). ``fail_fast`` starts nothing new once a job failed: those
running finish (CloudFormation would carry on with them anyway), the rest are skipped.

Ctrl-C sets ``stop``: nothing new starts, the running jobs are waited for (each looks at ``stop``
before it executes anything, and cancels what it has made), and every outcome is returned."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class Outcome(Generic[Item, Result]):
    item: Item
    result: Result | None = None
    error: BaseException | None = None
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.skipped


def run_waves(
    waves: Sequence[Sequence[Item]],
    job: Callable[[Item], Result],
    *,
    max_concurrent: int,
    fail_fast: bool = False,
    on_start: Callable[[Item], None] = lambda _: None,
    on_done: Callable[[Outcome[Item, Result]], None] = lambda _: None,
    stop: threading.Event | None = None,
) -> list[Outcome[Item, Result]]:
    """Every item's outcome, in the order given."""
    outcomes: dict[int, Outcome[Item, Result]] = {}
    failed = threading.Event()
    stop = stop or threading.Event()
    order = [item for wave in waves for item in wave]
    index = {id(item): n for n, item in enumerate(order)}

    def guarded(item: Item) -> Result:
        on_start(item)
        return job(item)

    # stopped_on_leaving exits first: the pool's exit waits for jobs that have seen stop
    with (
        ThreadPoolExecutor(max_workers=max(1, max_concurrent), thread_name_prefix="fleet") as pool,
        _stopped_on_leaving(stop),
    ):
        for number, wave in enumerate(waves):
            pending = list(wave)
            running: dict[Future[Result], Item] = {}
            while pending or running:
                while (
                    pending
                    and len(running) < max_concurrent
                    and not (fail_fast and failed.is_set())
                    and not stop.is_set()
                ):
                    item = pending.pop(0)
                    running[pool.submit(guarded, item)] = item
                if not running:
                    break
                try:
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                except KeyboardInterrupt:  # the running jobs see it and stop before executing anything
                    stop.set()
                    continue
                for future in done:
                    item = running.pop(future)
                    error = future.exception()
                    outcome = Outcome(item, None if error else future.result(), error)
                    if error is not None:
                        failed.set()
                    outcomes[index[id(item)]] = outcome
                    on_done(outcome)
            for item in pending:
                outcomes[index[id(item)]] = Outcome(item, skipped=True)
            if (fail_fast and failed.is_set()) or stop.is_set():
                for later in waves[number + 1 :]:
                    for item in later:
                        outcomes[index[id(item)]] = Outcome(item, skipped=True)
                break
    return [outcomes[n] for n in range(len(order))]


@contextmanager
def _stopped_on_leaving(stop: threading.Event) -> Iterator[None]:
    """An interrupt (or an error) anywhere in the loop, not only in wait(), sets stop: the running
    jobs then cancel before executing anything instead of going on unasked."""
    try:
        yield
    except BaseException:
        stop.set()
        raise

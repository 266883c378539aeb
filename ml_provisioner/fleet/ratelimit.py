"""A client-side token bucket per (account, region): a fleet's calls to CloudFormation stay under
the API rate CloudFormation allows each account and region, instead of meeting its throttling
(botocore's retries still handle what comes through). Counts every call, per product."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

# CloudFormation throttles each account and region with token buckets of its own; these stay
# well under them for the calls a deploy makes (mostly Describe* while waiting).
DEFAULT_RATE = 5.0  # calls per second, sustained
DEFAULT_BURST = 10  # calls at once after a quiet spell
LIMITED_SERVICES = ("cloudformation",)


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.capacity = rate, float(burst)
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take one token, waiting for it if need be; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return waited
                pause = (1 - self.tokens) / self.rate
            time.sleep(pause)
            waited += pause


class RateLimits:
    """The buckets of a run, one per (account, region), and the calls made per product."""

    def __init__(self, rate: float = DEFAULT_RATE, burst: int = DEFAULT_BURST) -> None:
        self.rate, self.burst = rate, burst
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()  # product -> API calls
        self.waited: dict[str, float] = {}  # product -> seconds held back

    def bucket(self, account: str, region: str) -> TokenBucket:
        with self._lock:
            return self._buckets.setdefault((account, region), TokenBucket(self.rate, self.burst))

    def hook(self, product: str, account: str, region: str) -> Callable[[str, Any], None]:
        """The AwsSession.on_client of one product: limit its CloudFormation calls, count all."""
        bucket = self.bucket(account, region)

        def on_client(service: str, client: Any) -> None:
            def count(**_: Any) -> None:
                with self._lock:
                    self.calls[product] += 1

            def limit(**_: Any) -> None:
                waited = bucket.take()
                if waited:
                    with self._lock:
                        self.waited[product] = self.waited.get(product, 0.0) + waited

            # before-send: once per HTTP attempt, retries included
            client.meta.events.register("before-send", count)
            if service in LIMITED_SERVICES:
                client.meta.events.register(f"before-send.{service}", limit)

        return on_client

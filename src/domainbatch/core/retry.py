"""The one retry policy: exponential backoff with jitter, for a domain's transient failures, a
webhook's failed deliveries and an idle worker's polling (each with its own settings)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from domainbatch.errors import TIMEOUT_CODES
from domainbatch.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    """Wait about ``base * 2**(n-1)`` after the n-th failure (or idle round), never more than
    ``cap``, drawn from the upper half of that range so many clients do not retry in step;
    ``max_attempts`` None retries for ever. A failure whose code is a timeout
    (``errors.TIMEOUT_CODES``) gets at most ``timeout_max_attempts`` attempts, within
    ``max_attempts``."""

    base: float
    cap: float
    max_attempts: int | None = None
    timeout_max_attempts: int | None = None

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after ``attempt`` (1 = the first failure)."""
        ceiling = min(self.cap, self.base * (2 ** min(max(attempt - 1, 0), 32)))
        return (rng or random).uniform(ceiling / 2, ceiling)

    def retries(self, attempt: int, code: str | None = None) -> bool:
        """Whether the failure of ``attempt`` (with error ``code``) gets another attempt."""
        limits = [self.max_attempts]
        if code in TIMEOUT_CODES:
            limits.append(self.timeout_max_attempts)
        return all(limit is None or attempt < limit for limit in limits)

    @classmethod
    def for_domains(cls, settings: Settings, max_attempts: int) -> RetryPolicy:
        """A batch's transient failures (``max_attempts`` is the batch's own)."""
        return cls(
            settings.retry_base_seconds,
            settings.retry_max_seconds,
            max_attempts,
            settings.timeout_max_attempts,
        )

    @classmethod
    def for_webhooks(cls, settings: Settings) -> RetryPolicy:
        return cls(
            settings.webhook_retry_base_seconds,
            settings.webhook_retry_max_seconds,
            settings.webhook_max_attempts,
        )

    @classmethod
    def for_polling(cls, settings: Settings) -> RetryPolicy:
        """An idle loop's next look for work: quick after work, slower while there is none."""
        return cls(settings.poll_min_seconds * 2, settings.poll_max_seconds)

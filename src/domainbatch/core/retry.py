"""The one retry policy: exponential backoff with jitter, for a domain's transient failures, a
webhook's failed deliveries and an idle worker's polling (each with its own settings)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from domainbatch.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    """Wait about ``base * 2**(n-1)`` after the n-th failure (or idle round), never more than
    ``cap``, drawn from the upper half of that range so many clients do not retry in step;
    ``max_attempts`` None retries for ever."""

    base: float
    cap: float
    max_attempts: int | None = None

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after ``attempt`` (1 = the first failure)."""
        ceiling = min(self.cap, self.base * (2 ** min(max(attempt - 1, 0), 32)))
        return (rng or random).uniform(ceiling / 2, ceiling)

    def retries(self, attempt: int) -> bool:
        """Whether the failure of ``attempt`` gets another attempt."""
        return self.max_attempts is None or attempt < self.max_attempts

    @classmethod
    def for_domains(cls, settings: Settings, max_attempts: int) -> RetryPolicy:
        """A batch's transient failures (``max_attempts`` is the batch's own)."""
        return cls(settings.retry_base_seconds, settings.retry_max_seconds, max_attempts)

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

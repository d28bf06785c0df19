"""One logging setup for every command (stdlib ``logging``): our loggers and uvicorn's go
through one handler on stderr, as text or as one JSON object per line; third-party loggers
(Alembic, SQLAlchemy, aiohttp...) only speak from WARNING up unless the level is ``debug``."""

from __future__ import annotations

import logging
import re
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from domainbatch.core.humanize import rfc3339

if TYPE_CHECKING:
    from domainbatch.settings import Settings


class Level(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"


# Shorthands for --log-level info / warning. Not given (None), the environment's level or the
# command's default applies: a flag given on the command line always wins over the environment.
VerboseFlag = Annotated[
    bool | None,
    typer.Option(
        "--verbose/--quiet", "-v/-q", help="--log-level info / warning.", show_default=False
    ),
]
LogLevelFlag = Annotated[
    Level | None,
    typer.Option(
        "--log-level",
        help="debug, info, warning or error; overrides DOMAINBATCH_LOG_LEVEL.",
        case_sensitive=False,
        show_default=False,
    ),
]
LogFormatFlag = Annotated[
    Format | None,
    typer.Option(
        "--log-format",
        help="text, or json (one object per line); overrides DOMAINBATCH_LOG_FORMAT.",
        case_sensitive=False,
        show_default=False,
    ),
]

# Loggers that speak at the chosen level; every other one (alembic's four INFO lines at each
# start, sqlalchemy, aiohttp, asyncio...) stays at WARNING unless the level is debug.
OWN_LOGGERS = ("domainbatch", "uvicorn")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# user:password@ in any URL a message quotes (a database URL in a driver's error).
_PASSWORD = re.compile(r"(?<=://)([^:/@\s]+):[^@/\s]+@")
# What every LogRecord has; anything else was given as ``extra=`` and goes into the JSON.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured duplicate of the message
}


def redact(text: str) -> str:
    """Passwords out of URLs: ``postgresql://app:***@db/x``."""
    return _PASSWORD.sub(r"\1:***@", text)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One object per line: time (RFC 3339 UTC), level, logger, message, then the extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": rfc3339(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(entry, default=str).decode()


def logged_settings(
    *,
    default: Level,
    verbose: bool | None,
    log_level: Level | None,
    log_format: Format | None,
    **overrides: Any,
) -> Settings:
    """The settings of a command that logs (``run``, ``worker``, ``serve``), with logging set
    up. The level: ``--log-level``, else ``-v``/``-q``, else ``DOMAINBATCH_LOG_LEVEL``, else
    the command's ``default``."""
    from domainbatch.cli.common import load_settings

    shorthand = None if verbose is None else Level.INFO if verbose else Level.WARNING
    chosen = log_level or shorthand
    settings = load_settings(
        log_level=chosen and chosen.value,
        log_format=log_format and log_format.value,
        **overrides,
    )
    setup_logging(settings, default)
    return settings


def setup_logging(settings: Settings, default: Level = Level.INFO) -> None:
    """Configure logging once for this process; the settings' level, else ``default``."""
    level = getattr(logging, (settings.log_level or default).upper())
    handler = logging.StreamHandler(sys.stderr)
    json = settings.log_format == Format.JSON.value
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level if level <= logging.DEBUG else max(level, logging.WARNING))
    for name in OWN_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers.clear()  # uvicorn's own, if anything configured it: ours only
        logger.propagate = True

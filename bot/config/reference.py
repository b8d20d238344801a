"""The configuration reference (docs/configuration.md), generated from the models themselves so it cannot drift:
every key of opsbot.yml with its type and default, and every setting from the environment.

    python -m bot.config.reference            # rewrite docs/configuration.md
    python -m bot.config.reference --check    # exit 1 when the committed file is stale
"""
from __future__ import annotations

import sys
import types
import typing
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from bot.config.catalog import Catalog
from bot.config.settings import Settings, SlackSettings
from bot.timeparse import format_duration

OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _kinds(annotation: Any) -> list[type[BaseModel]]:
    """The models of a discriminated union (`Annotated[A | B, Field(discriminator="kind")]`), else none."""
    metadata = getattr(annotation, "__metadata__", ())
    if any(isinstance(item, FieldInfo) and item.discriminator for item in metadata):
        return list(typing.get_args(typing.get_args(annotation)[0]))
    return []


def _type(annotation: Any) -> str:
    """A readable type: `str`, `list[Check]`, `Duration`, `P0 | P1`…"""
    metadata = getattr(annotation, "__metadata__", None)
    if _kinds(annotation):
        return "one of the kinds below"
    if metadata is not None:  # Annotated[timedelta, …]: our durations
        base = typing.get_args(annotation)[0]
        return "duration (15m, 4h, 2d)" if base is timedelta else _type(base)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(repr(a) if not isinstance(a, str) else a for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type(a) for a in args)
    if origin is list:
        return f"list[{_type(args[0])}]"
    if origin is dict:
        return f"map {_type(args[0])} → {_type(args[1])}"
    if annotation is timedelta:
        return "duration (15m, 4h, 2d)"
    if isinstance(annotation, type):
        return "null" if annotation is type(None) else annotation.__name__
    return str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if value is PydanticUndefined:
        return "—"
    if isinstance(value, BaseModel):
        return "(section)"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, list | tuple) and value and all(isinstance(v, timedelta) for v in value):
        return f"`[{', '.join(format_duration(v) for v in value)}]`"  # as the YAML writes it: [2d, 1d]
    if isinstance(value, Enum):
        return value.name.lower()
    if isinstance(value, dict) and value and all(isinstance(v, BaseModel) for v in value.values()):
        return "built-in: " + ", ".join(value)
    text = "null" if value is None else str(value).replace("|", "\\|")
    return f"`{text}`" if len(text) <= 80 else f"`{text[:77]}…`"


def _bounds(field: FieldInfo) -> str:
    """Numeric limits (`gt=0` → `, > 0`), as check-config enforces them."""
    signs = {"gt": ">", "ge": "≥", "lt": "<", "le": "≤", "min_length": "items ≥", "max_length": "items ≤"}
    found = [f"{sign} {getattr(item, name)}" for item in field.metadata for name, sign in signs.items()
             if getattr(item, name, None) is not None]
    return f", {', '.join(found)}" if found else ""


Nested = type[BaseModel] | tuple[type[BaseModel], ...]  # a model, or the kinds of a discriminated union


def _models(annotation: Any) -> list[tuple[str, Nested]]:
    """The models nested in a field's type, with the path step to reach each (`.<name>`, `[]`)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if _kinds(annotation):
        return [("", tuple(_kinds(annotation)))]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("", annotation)]
    if origin is list:
        return [("[]" + step, model) for step, model in _models(args[0])]
    if origin is dict:
        return [(".<name>" + step, model) for step, model in _models(args[1])]
    if origin in (typing.Union, types.UnionType):
        return [found for arg in args for found in _models(arg)]
    return []


Row = tuple[str, str, str, str]  # key, type, default, note


def _rows(model: Nested, prefix: str) -> list[Row]:
    if isinstance(model, tuple):
        return _kind_rows(model, prefix)
    rows = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}.{key}" if prefix else key
        note = (field.description or "").replace("|", "\\|")
        rows.append((path, f"{_type(field.annotation)}{_bounds(field)}", _default(field), note))
        for step, nested in _models(field.annotation):
            rows.extend(_rows(nested, path + step))
    return rows


def _kind_rows(kinds: tuple[type[BaseModel], ...], prefix: str) -> list[Row]:
    """One `kind` row naming every kind, then each key once with the kinds that have it (`every kind`)."""
    names = [typing.get_args(kind.model_fields["kind"].annotation)[0] for kind in kinds]
    merged: dict[Row, list[str]] = {}
    for name, kind in zip(names, kinds, strict=True):
        for row in _rows(kind, prefix):
            if row[0] != f"{prefix}.kind":
                merged.setdefault(row, []).append(name)
    rows = [(f"{prefix}.kind", " \\| ".join(names), "**required**", "picks the kind, and so the keys below")]
    for (path, kind_type, default, note), having in merged.items():
        which = "every kind" if having == names else f"{', '.join(having)}"
        rows.append((path, kind_type, default, f"{which}{': ' + note if note else ''}"))
    return rows


def _table(rows: list[Row]) -> str:
    return "\n".join(f"| `{path}` | {kind} | {default} | {note} |" for path, kind, default, note in rows)


def render() -> str:
    header = "| key | type | default | note |\n|---|---|---|---|"
    settings = []
    for kind in (Settings, SlackSettings):
        prefix = str(kind.model_config.get("env_prefix", ""))
        for name, field in kind.model_fields.items():
            default = "`$XDG_DATA_HOME/opsbot/opsbot.db` (else `~/.local/share/opsbot/opsbot.db`)" \
                if name == "database_url" else _default(field)
            note = (field.description or "").replace("|", "\\|")
            settings.append(f"| `{(prefix + name).upper()}` | {_type(field.annotation)} | {default} | {note} |")
    return (
        "# Configuration reference\n\n"
        "Generated from the models (`python -m bot.config.reference`; a test keeps it current). The catalog,\n"
        "`opsbot.yml`, is described in the README and `opsbot.example.yml`; `opsbot check-config` validates one.\n"
        "`<name>` is a key you choose; `[]` an item of a list. Unknown keys are errors.\n\n"
        "## Environment variables\n\n"
        "Secrets and deployment settings come from here only, never from the YAML. Besides these:\n"
        "`OPSBOT_USER`, `OPSBOT_LOG_LEVEL`, `OPSBOT_LOG_FORMAT`, `OPSBOT_ALERT_TOKEN_<SOURCE>`, and the variables\n"
        "the catalog names (`dsn_env`, `url_env`, `key_env`).\n\n"
        f"{header}\n" + "\n".join(settings) + "\n\n"
        "## opsbot.yml\n\n"
        f"{header}\n" + _table(_rows(Catalog, "")) + "\n"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in argv:
        if not OUTPUT.is_file() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is stale: run python -m bot.config.reference", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text)
    print(OUTPUT)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What every kind's settings model shares — a platform's (docker, kubernetes, ssh) or a check's (http, tls, …).

Each kind's model lives beside its code (bot/platforms/settings.py, bot/checks/settings.py) and bot.config
builds its discriminated unions from them (`kind` picks the model). So those modules, and this one, import
pydantic and nothing of ours: not an adapter (no SDK is loaded by reading a catalog) and not bot.config (which
imports them: that would be a cycle).
"""
from __future__ import annotations

import typing
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

# One validator may find several problems: it raises ValueError with them joined by this, and the catalog loader
# reports each on its own line with the item's path (pydantic keeps one error per validator).
PROBLEM_SEPARATOR = "\n"


def problems(found: list[str]) -> None:
    """Raise every problem a validator found at once (nothing when the list is empty)."""
    if found:
        raise ValueError(PROBLEM_SEPARATOR.join(found))


class KindSettings(BaseModel):
    """One kind's settings. Subclasses declare `kind: Literal["<kind>"]` and their own keys; a key the kind does
    not have and a required key left out are reported together, naming the kind ("a tcp check needs port")."""

    model_config = ConfigDict(extra="forbid")

    noun: ClassVar[str] = "kind"  # what a kind is of, in messages: "platform", "check"
    article: ClassVar[str] = "a"  # "an ssh platform"
    shared: ClassVar[tuple[str, ...]] = ("kind",)  # keys every kind of the noun has (pydantic reports those)

    @classmethod
    def kind_name(cls) -> str:
        return str(typing.get_args(cls.model_fields["kind"].annotation)[0])

    @classmethod
    def keys(cls) -> list[str]:
        """The keys of this kind in opsbot.yml, `kind` first."""
        return sorted((field.alias or name for name, field in cls.model_fields.items()), key=lambda key: key != "kind")

    @classmethod
    def needs(cls, missing: list[str]) -> str:
        """The message for required keys left out (a kind may add what they are for)."""
        return f"{cls.article} {cls.kind_name()} {cls.noun} needs {', '.join(missing)}"

    @model_validator(mode="before")
    @classmethod
    def _keys_of_this_kind(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set(cls.keys()) | set(cls.model_fields)
        found = []
        unknown = [str(key) for key in data if key not in known]
        if unknown:
            found.append(f"{cls.article} {cls.kind_name()} {cls.noun} has no {', '.join(unknown)}; its keys: "
                         f"{', '.join(cls.keys())}")
        missing = [name for name, field in cls.model_fields.items() if field.is_required() and name not in cls.shared
                   and data.get(field.alias or name, data.get(name)) in (None, "", [])]
        if missing:
            found.append(cls.needs(missing))
        problems(found)
        return data


def kinds_of(union: Any) -> dict[str, type[KindSettings]]:
    """The models of a discriminated union of kinds (`Annotated[A | B, Field(discriminator="kind")]`), by kind."""
    members = typing.get_args(typing.get_args(union)[0])
    return {model.kind_name(): model for model in members}

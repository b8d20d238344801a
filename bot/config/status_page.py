"""`status_page:` in opsbot.yml: the public status page's title, address, time zone, components and publishing.

Each component names what it is made of in the catalog — services as `env/service`, checks as `env/check` — and
`opsbot check-config` checks every reference (`Catalog._cross_references` calls `reference_problems`).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from bot.config.environments import Environment, Role
from bot.config.fields import Strict
from bot.config.schedule import check_timezone

DEFAULT_INVESTIGATING = "We are investigating an issue affecting {components}. We will post an update as soon as we know more."
DEFAULT_RESOLVED = "This incident has been resolved."
_NAME_MAX = 80


class StatusComponent(Strict):
    """One thing the public sees the status of (e.g. "API", "Checkout"), grouped on the page by `group`."""

    name: str = Field(description="shown on the page; unique; no ',' or '='")
    group: str | None = Field(default=None, description="components of a group are shown together")
    description: str | None = Field(default=None, description="shown with the component")
    services: list[str] = Field(default_factory=list, description="what it is made of: env/service")
    checks: list[str] = Field(default_factory=list, description="the checks that watch it: env/check")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        value = value.strip()
        if not value or len(value) > _NAME_MAX:
            raise ValueError(f"a component name is 1 to {_NAME_MAX} characters")
        if "," in value or "=" in value:
            raise ValueError(f"'{value}': a component name holds no ',' or '=' (commands list them with those)")
        return value

    @field_validator("services", "checks")
    @classmethod
    def _env_slash_name(cls, value: list[str]) -> list[str]:
        wrong = [item for item in value if item.count("/") != 1 or not all(item.split("/"))]
        if wrong:
            raise ValueError(f"write each as env/name, not {', '.join(repr(item) for item in wrong)}")
        return value

    @property
    def environments(self) -> list[str]:
        return list(dict.fromkeys(item.split("/")[0] for item in [*self.services, *self.checks]))


class Publish(Strict):
    """Where the scheduler leader writes the page as static files on every change (for a bucket, a CDN)."""

    dir: Path = Field(description="a symbolic link the scheduler leader points at each whole new version of the page")


class StatusTemplates(Strict):
    """The public updates opsbot writes when a person gives no text: `{components}` is replaced by their names."""

    investigating: str = Field(default=DEFAULT_INVESTIGATING, description="a publication's first update")
    resolved: str = Field(default=DEFAULT_RESOLVED, description="the update a resolution posts")


class StatusPage(Strict):
    title: str = Field(default="Status", description="the page's heading and title")
    url: str | None = Field(default=None, description="its public address, used in links and feeds")
    time_zone: str = Field(default="UTC", description="times on the page are shown in it (IANA name)")
    components: list[StatusComponent] = Field(default_factory=list)
    publish: Publish | None = Field(default=None, description="a static copy of the page, for hosting elsewhere")
    publish_role: str = Field(default="responder", description="who may publish incidents and set components, in the "
                              "incident's (or component's) environment")
    templates: StatusTemplates = Field(default_factory=lambda: StatusTemplates())
    maintenance_public: bool = Field(default=False, description="maintenance windows go on the page unless "
                                     "`/maint schedule … --private` says otherwise (else only with --public)")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError("the page's address starts with https:// (or http://)")
        return value.rstrip("/") if value else value

    @field_validator("publish_role")
    @classmethod
    def _role(cls, value: str) -> str:
        Role.parse(value)
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> StatusPage:
        names = [component.name.casefold() for component in self.components]
        repeated = sorted({component.name for component in self.components if names.count(component.name.casefold()) > 1})
        if repeated:
            raise ValueError(f"component names must be unique (case aside); repeated: {', '.join(repeated)}")
        return self

    def component(self, name: str) -> StatusComponent | None:
        """The component called `name`, case aside."""
        return next((c for c in self.components if c.name.casefold() == name.strip().casefold()), None)


def reference_problems(page: StatusPage, environments: dict[str, Environment],
                       gone: Callable[[str, str, str], bool] = lambda env, kind, name: False) -> list[str]:
    """Every `env/service` and `env/check` a component names must exist; `gone(env, kind, name)`: set aside for a
    problem of its own (nothing more is said about it)."""
    found = []
    for index, component in enumerate(page.components):
        where = f"status_page.components.{index} ({component.name})"
        for kind, items in (("services", component.services), ("checks", component.checks)):
            for item in items:
                env_name, name = item.split("/")
                if gone(env_name, kind, name):
                    continue
                env = environments.get(env_name)
                if env is None:
                    found.append(f"{where}.{kind}: '{item}' names unknown environment '{env_name}'; environments: "
                                 f"{', '.join(environments) or 'none'}")
                    continue
                known = list(env.services) if kind == "services" else [check.name for check in env.checks]
                if name not in known:
                    found.append(f"{where}.{kind}: '{item}': {env_name} has no {kind[:-1]} '{name}'; {kind}: "
                                 f"{', '.join(known) or 'none'}")
    return found

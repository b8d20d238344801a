"""The runbooks' announcement messages as Jinja2 templates: INCIDENT ALERT, status update, INCIDENT RESOLVED,
reopened. Defaults here; a team overrides any of them under `templates:` in opsbot.yml.

Templates render in a sandbox with autoescape off: the values they get are already Slack mrkdwn, every piece of
user text escaped by the view that builds them (so typed text cannot inject `<!channel>` or a link), while the
template's own text is the team's and may use mrkdwn freely. Each template is compiled and rendered with
sample values when the catalog loads, so `opsbot check-config` rejects one that does not compile or names a
variable its message does not have.
"""
from __future__ import annotations

from functools import cache

from jinja2 import StrictUndefined, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

ALERT = """\
*INCIDENT ALERT - {{ severity }} ({{ severity_name }})*
*Service:* {{ service }}
{% if title %}*Issue:* {{ title }}
{% endif %}{% if impact %}*Impact:* {{ impact }}
{% endif %}*Status:* Investigating
{% if eta %}*ETA:* {{ eta }}
{% endif %}*Commander:* {{ commander }}
{% if oncall %}*On call:* {{ oncall }} (paged)
{% endif %}*Channel:* {{ channel }}
*Updates:* every {{ update_every }}"""

UPDATE = """\
*INCIDENT UPDATE - {{ id }} · {{ severity }} ({{ severity_name }})*
*Service:* {{ service }}
{% if title %}*Issue:* {{ title }}
{% endif %}*Status:* {{ status }}
*Update:* {{ update }}
{% if eta %}*ETA:* {{ eta }}
{% endif %}*Next update:* by {{ next_update }}
*Channel:* {{ channel }}"""

RESOLVED = """\
*INCIDENT RESOLVED - {{ id }} · {{ severity }} ({{ severity_name }})*
*Service:* {{ service }}
{% if title %}*Issue:* {{ title }}
{% endif %}*Resolution:* {{ resolution }}
*Duration:* {{ duration }}
*Next Steps:* post-mortem due {{ postmortem_due }}{% if open_actions %}; {{ open_actions }} open action item(s){% endif %}
*Channel:* {{ channel }}"""

REOPENED = """\
*INCIDENT REOPENED - {{ id }} · {{ severity }} ({{ severity_name }})*
{% if title %}*Issue:* {{ title }}
{% endif %}{% if reason %}*Reason:* {{ reason }}
{% endif %}*Reopened by:* {{ by }}
*Channel:* {{ channel }}"""

DEFAULTS = {"alert": ALERT, "update": UPDATE, "resolved": RESOLVED, "reopened": REOPENED}

# The variables each message gets (all strings, already mrkdwn; `title` and `impact` are empty for a private
# incident unless the catalog says to show them).
_COMMON = {"id", "severity", "severity_name", "service", "title", "impact", "status", "commander", "channel",
           "private"}
VARIABLES = {
    "alert": _COMMON | {"update_every", "eta", "oncall"},
    "update": _COMMON | {"update", "eta", "next_update", "by"},
    "resolved": _COMMON | {"resolution", "duration", "postmortem_due", "open_actions", "by"},
    "reopened": _COMMON | {"reason", "by"},
}
SAMPLE = {"id": "INC-1", "severity": "P1", "severity_name": "High", "service": "shop", "title": "Checkout fails",
          "impact": "payments fail", "status": "investigating", "commander": "<@U123>", "channel": "<#C123>",
          "private": "", "update_every": "30m", "oncall": "<@U234>", "update": "rolled back", "eta": "2026-01-01 12:30 UTC",
          "next_update": "2026-01-01 12:30 UTC", "by": "<@U123>", "resolution": "rolled back the release",
          "duration": "1h 5m", "postmortem_due": "2026-01-02 12:00 UTC", "open_actions": "2", "reason": "errors again"}


@cache
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=False)


def check(kind: str, source: str) -> str:
    """The template if it compiles, names only its message's variables and renders; else ValueError."""
    env = _environment()
    try:
        unknown = meta.find_undeclared_variables(env.parse(source)) - VARIABLES[kind]
        if unknown:
            known = ", ".join(sorted(VARIABLES[kind]))
            raise ValueError(f"unknown variable(s) {', '.join(sorted(unknown))}; this message has {known}")
        env.from_string(source).render(**{name: SAMPLE[name] for name in VARIABLES[kind]})
    except TemplateError as exc:
        raise ValueError(f"the template does not render: {exc}") from exc
    return source


def render_message(kind: str, source: str, values: dict[str, str]) -> str:
    """One message, from values that are already safe mrkdwn."""
    return _template(source).render(**{name: values.get(name, "") for name in VARIABLES[kind]}).strip()


@cache
def _template(source: str):
    return _environment().from_string(source)

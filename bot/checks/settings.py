"""What each check kind takes in opsbot.yml (`environments.<name>.checks[]`), one model per kind.

A new kind: its model here, added to `AnyCheck`, and its module's check function in `KINDS` (bot/checks/runner.py).
This module imports pydantic only: bot.config reads it to validate a catalog (see bot/kinds.py). Secrets never
live here: a check names the environment variable that holds a DSN or URL (`*_env`).
"""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import ConfigDict, Field, model_validator

from bot.kinds import KindSettings, problems


class CheckSettings(KindSettings):
    """What every check has."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    noun: ClassVar[str] = "check"
    shared: ClassVar[tuple[str, ...]] = ("kind", "name", "timeout_s")

    name: str
    timeout_s: float = Field(5.0, gt=0)

    def in_order(self, warn: str, crit: str, high_is_bad: bool, what: str) -> list[str]:
        """warn must come before crit on the way to bad: the lower one where high is bad, the higher one where
        low is bad (free space, days to expiry). Swapped, a check would never warn or would be critical early."""
        low, high = getattr(self, warn), getattr(self, crit)
        if low is None or high is None or (low <= high if high_is_bad else low >= high):
            return []
        side = "lower" if high_is_bad else "higher"
        return [f"a {self.kind_name()} check's {warn} ({low:g}) must be {side} than its {crit} ({high:g}): {what}"]


class HttpCheck(CheckSettings):
    """Status code, latency thresholds and expected JSON fields (bot/checks/http.py)."""

    kind: Literal["http"]
    url: str
    expect_status: int = 200
    warn_ms: float | None = Field(None, gt=0, description="a response slower than this warns")
    crit_ms: float | None = Field(None, gt=0, description="a response slower than this is critical")
    json_fields: dict[str, object] | None = Field(None, alias="json",
                                                  description="expected values by dotted path (a.b)")

    @model_validator(mode="after")
    def _thresholds(self) -> HttpCheck:
        problems(self.in_order("warn_ms", "crit_ms", True, "a response slower than warn_ms warns, slower than "
                                                           "crit_ms is critical"))
        return self


class UsePctCheck(CheckSettings):
    warn_pct: float | None = Field(None, description="use above this % warns")
    crit_pct: float | None = Field(None, description="use above this % is critical")

    @model_validator(mode="after")
    def _thresholds(self) -> UsePctCheck:
        problems(self.in_order("warn_pct", "crit_pct", True, "use above warn_pct % warns, above crit_pct % is "
                                                             "critical"))
        return self


class PostgresCheck(UsePctCheck):
    """Connections as % of max_connections, size, long-running queries (bot/checks/postgres.py)."""

    kind: Literal["postgres"]
    dsn_env: str = Field(description="the environment variable holding the DSN")
    long_query_s: float = Field(60.0, gt=0, description="a query running longer than this warns")


class RedisCheck(UsePctCheck):
    """PING, used_memory as % of maxmemory, connected clients (bot/checks/redis.py)."""

    kind: Literal["redis"]
    url_env: str = Field(description="the environment variable holding the URL")


class TlsCheck(CheckSettings):
    """Days until the certificate expires, and whether it matches the host name (bot/checks/tls.py)."""

    kind: Literal["tls"]
    host: str
    port: int | None = Field(None, gt=0, lt=65536, description="default 443")
    warn_days: int = Field(30, ge=0)
    crit_days: int = Field(7, ge=0)
    ca_file: str | None = Field(None, description="a private CA bundle; default: the system's")

    @model_validator(mode="after")
    def _thresholds(self) -> TlsCheck:
        problems(self.in_order("warn_days", "crit_days", False, "fewer days to expiry than warn_days warns, fewer "
                                                                "than crit_days is critical"))
        return self


class TcpCheck(CheckSettings):
    """Can we connect, and how long it took (bot/checks/tcp.py)."""

    kind: Literal["tcp"]
    host: str
    port: int = Field(gt=0, lt=65536)


class DockerCheck(CheckSettings):
    """A Compose service's containers, as the platform sees them (bot/checks/workloads.py)."""

    kind: Literal["docker"]
    service: str


class KubernetesCheck(CheckSettings):
    """The pods a label selector picks, as the platform sees them (bot/checks/workloads.py)."""

    kind: Literal["kubernetes"]
    selector: str
    service: str | None = Field(None, description="a Deployment to look at instead of the selector's pods")


class PrometheusCheck(CheckSettings):
    """An instant query against the server whose base URL is in $url_env (bot/checks/prometheus.py). `warn` and
    `crit` are in the query's own units ("%": the query returns a ratio, 0.05, shown as 5%); `direction: below`
    for values that are bad when low (free disk, success rate)."""

    kind: Literal["prometheus"]
    url_env: str = Field(description="the environment variable holding the Prometheus base URL")
    query: str
    warn: float | None = Field(None, description="in the query's units: past this warns")
    crit: float | None = Field(None, description="in the query's units: past this is critical")
    unit: str = Field("", description='"%": the query returns a ratio (0.05 is shown as 5%)')
    direction: Literal["above", "below"] = Field("above", description="below: low values are bad")

    @classmethod
    def needs(cls, missing: list[str]) -> str:
        hint = " (the environment variable holding the Prometheus base URL, e.g. PROM_URL)" \
            if "url_env" in missing else ""
        return super().needs(missing) + hint

    @model_validator(mode="after")
    def _thresholds(self) -> PrometheusCheck:
        warn, crit = self.warn, self.crit
        if warn is None and crit is None:
            problems(["a prometheus check needs warn or crit (or both)"])
        found = []
        if warn is not None and crit is not None:
            if self.direction == "above" and warn > crit:
                found.append(f"warn ({warn:g}) is above crit ({crit:g}): with direction above (high is bad) "
                             "warn must be the lower threshold; use direction: below if low values are bad")
            if self.direction == "below" and warn < crit:
                found.append(f"warn ({warn:g}) is below crit ({crit:g}): with direction below (low is bad) "
                             "warn must be the higher threshold")
        if self.unit == "%" and any(value is not None and not 0 <= value <= 1 for value in (warn, crit)):
            found.append("with unit '%' the query returns a ratio and warn/crit are ratios too: write 0.05 for 5%")
        problems(found)
        return self


class HostCheck(CheckSettings):
    """A check read over SSH on every host of an ssh platform, or on `hosts` (bot/checks/host.py)."""

    hosts: list[str] | None = Field(None, description="only these of the platform's hosts (default: all)")


class FreePctCheck(HostCheck):
    warn_pct: float | None = Field(None, description="free % below this warns (default 20)")
    crit_pct: float | None = Field(None, description="free % below this is critical (default 10)")

    @model_validator(mode="after")
    def _thresholds(self) -> FreePctCheck:
        problems(self.in_order("warn_pct", "crit_pct", False, "free % below warn_pct warns, below crit_pct is "
                                                              "critical"))
        return self


class DiskCheck(FreePctCheck):
    """Free space on the filesystem holding `path` (`df`)."""

    kind: Literal["disk"]
    path: str = "/"


class MemoryCheck(FreePctCheck):
    """Available memory (`free -m`)."""

    kind: Literal["memory"]


class LoadCheck(HostCheck):
    """The 1-minute load per CPU."""

    kind: Literal["load"]
    warn: float | None = Field(None, description="load per CPU above this warns (default 1)")
    crit: float | None = Field(None, description="load per CPU above this is critical (default 2)")

    @model_validator(mode="after")
    def _thresholds(self) -> LoadCheck:
        problems(self.in_order("warn", "crit", True, "load per CPU above warn warns, above crit is critical"))
        return self


class Pm2Check(HostCheck):
    """pm2's processes (`pm2 jlist`): one not online is bad, and so are restarts above `max_restarts` or memory
    above `max_memory_mb`."""

    kind: Literal["pm2"]
    service: str | None = Field(None, description="a pm2 service of the environment (default: every process)")
    max_restarts: int | None = Field(None, ge=0, description="a process restarted more often warns")
    max_memory_mb: float | None = Field(None, gt=0, description="a process using more memory warns")


AnyCheck = Annotated[HttpCheck | PostgresCheck | RedisCheck | TlsCheck | TcpCheck | DockerCheck | KubernetesCheck
                     | PrometheusCheck | DiskCheck | LoadCheck | MemoryCheck | Pm2Check, Field(discriminator="kind")]

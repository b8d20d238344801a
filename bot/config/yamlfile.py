"""Reading opsbot.yml: YAML whose mappings may not repeat a key (PyYAML would silently keep the last one, so half
of a twice-written `prod:` would vanish), and the environment variables the catalog expects its secrets in."""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import yaml

SECRET_NAMES = ("dsn_env", "url_env", "key_env")  # keys whose value names an environment variable holding a secret
_MERGE = "tag:yaml.org,2002:merge"


class _UniqueKeys(yaml.SafeLoader):
    """The safe loader, noting every key a mapping repeats (line numbers from 1)."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.repeated: list[str] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:  # `<<: *defaults`: overriding merged keys is what merging is for
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                if key in first:
                    self.repeated.append(f"line {line}: duplicate key '{key}' (first at line {first[key]}); YAML "
                                         "would silently keep only the last one")
                else:
                    first[key] = line
            except TypeError:
                continue  # an unhashable key: the constructor below refuses it
        return super().construct_mapping(node, deep)


_UniqueKeys.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _UniqueKeys.construct_mapping)


def read_yaml(text: str) -> tuple[Any, list[str]]:
    """(the document, one problem per repeated key). Raises yaml.YAMLError for text that is not YAML."""
    loader = _UniqueKeys(text)
    try:
        data = loader.get_single_data()  # an outer mapping's keys are checked before its values: sort by line
        return data, sorted(loader.repeated, key=lambda problem: int(problem.split()[1].rstrip(":")))
    finally:
        loader.dispose()


def unset_secrets(data: Any, environ: Mapping[str, str] | None = None) -> list[str]:
    """A warning per variable named by `dsn_env`/`url_env`/`key_env` that is not set here: the checks or
    platform reading it fail until it is (not an error: check-config may run where the secrets are not)."""
    environ = os.environ if environ is None else environ
    named: dict[str, list[str]] = {}
    for where, variable in _secret_names(data, ""):
        if not environ.get(variable):
            named.setdefault(variable, []).append(where)
    return [f"{paths[0]}: ${variable} is not set here{_elsewhere(len(paths) - 1)}; what reads it fails until it is"
            for variable, paths in named.items()]


def _elsewhere(more: int) -> str:
    return "" if not more else f" (also named at {more} more place{'s' if more > 1 else ''})"


def _secret_names(data: Any, path: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        where = f"{path}.{key}" if path else str(key)
        if key in SECRET_NAMES and isinstance(value, str) and value:
            found.append((where, value))
        else:
            found.extend(_secret_names(value, where))
    return found

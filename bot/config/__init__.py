"""One configuration model: settings from the environment (settings.py), the catalog from opsbot.yml
(catalog.py, with its environments.py and schedule.py sections). Secrets only ever come from the environment."""
from bot.config.catalog import NEXT_BUSINESS_DAY, Catalog, Limits, Severity, Templates, load_catalog
from bot.config.environments import Environment, Role
from bot.config.settings import Settings, SlackSettings, config_path, from_environment
from bot.errors import ConfigError

__all__ = ["NEXT_BUSINESS_DAY", "Catalog", "ConfigError", "Environment", "Limits", "Role", "Settings",
           "Severity", "SlackSettings", "Templates", "config_path", "from_environment", "load_catalog"]

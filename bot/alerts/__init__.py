"""Alert sources: payloads (Alertmanager's webhook, opsbot's generic JSON) → typed alert groups → bot/core/alerts."""

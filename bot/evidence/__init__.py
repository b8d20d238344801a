"""Evidence adapters: the collectors that read the infrastructure, and the storage bundles live in."""

"""opsbot: ChatOps for on-call teams."""

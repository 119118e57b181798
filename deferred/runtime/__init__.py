"""The running server's engine: the service, the dispatcher and its worker pool, quotas, helpers."""

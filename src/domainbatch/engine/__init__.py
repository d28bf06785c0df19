"""The engine: workers claim, run and acknowledge domains; webhook delivery announces how
batches end. It sits between the service and the adapters (storage, fetching)."""

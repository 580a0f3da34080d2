"""The SDK's HTTP side: typed async clients of the services (crypto stays in phr.client)."""

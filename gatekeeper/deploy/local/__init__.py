"""The local deploy target: worker processes behind the proxy daemon, state on disk."""

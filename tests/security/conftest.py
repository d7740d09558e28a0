from tests.hub.conftest import sessions

__all__ = ["sessions"]

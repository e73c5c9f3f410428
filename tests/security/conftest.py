"""The live hub and its clients, shared with the integration tests."""

from tests.integration.conftest import api, client_for, live_hub, make_token  # noqa: F401

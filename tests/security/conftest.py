"""The attack suite drives the same live hub as the integration tests: its fixtures come from
``tests.live``, registered once for the whole run by the root conftest."""

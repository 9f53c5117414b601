"""Fixtures of the agent tests: the Apify fake, live settings against it, services, deps."""

from tests.agent.support import (  # noqa: F401
    apify,
    live_settings,
    make_conversation,
    make_deps,
    services,
)

"""Fixtures of the conversation tests: the same fakes and factories as the agent tests."""

from tests.agent.support import (  # noqa: F401
    apify,
    live_settings,
    make_conversation,
    make_deps,
    services,
)

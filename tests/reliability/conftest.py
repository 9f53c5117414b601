"""Fixtures of the reliability tests: the agent tests' Apify fake, live settings and factories."""

from tests.agent.support import (  # noqa: F401
    apify,
    live_settings,
    make_conversation,
    make_deps,
    services,
)
from tests.slack.conftest import scripted, slack  # noqa: F401

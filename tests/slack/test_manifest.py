"""The Slack app manifest asks for what the bot uses, and nothing it would fail without."""

from __future__ import annotations

from pathlib import Path

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "slack_manifest.yaml"


def test_manifest_subscribes_to_what_the_bot_listens_for() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert {"app_mentions:read", "chat:write", "files:write"} <= scopes
    assert {"channels:history", "groups:history", "im:history"} <= scopes
    assert {"app_mention", "message.channels", "message.groups", "message.im"} <= events
    # Every message.* event needs its history scope, or Slack refuses the manifest.
    for event in events - {"app_mention"}:
        assert f"{event.split('.')[1]}:history" in scopes
    assert manifest["features"]["bot_user"]["display_name"]
    assert manifest["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")

"""Which platforms exist: one PlatformSpec per platform module, looked up by Platform."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from viraltracker_bot.platforms import facebook, tiktok, twitter, youtube
from viraltracker_bot.platforms.errors import InvalidQuery
from viraltracker_bot.platforms.models import Platform
from viraltracker_bot.platforms.spec import PlatformSpec

SPECS: Mapping[Platform, PlatformSpec] = MappingProxyType(
    {spec.platform: spec for spec in (twitter.SPEC, tiktok.SPEC, youtube.SPEC, facebook.SPEC)}
)


def spec_for(platform: Platform | str) -> PlatformSpec:
    try:
        return SPECS[Platform(platform)]
    except (KeyError, ValueError) as exc:
        raise InvalidQuery(f"I can't search {platform!s} yet.") from exc

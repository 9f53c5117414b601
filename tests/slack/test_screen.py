"""The screen in front of bolt: what it refuses (a 400, never a 500) and what it hands bolt."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from slack_bolt.request.async_request import AsyncBoltRequest

from adapters.slack.screen import screened_request

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def _event(**fields: object) -> dict[str, object]:
    event = {"type": "app_mention", "user": "U1", "text": "hi", "ts": "1.2", "channel": "C1"}
    return {"type": "event_callback", "team_id": "T1", "event": {**event, **fields}}


def test_an_event_is_parsed_once_and_handed_to_bolt() -> None:
    screened = screened_request(json.dumps(_event()).encode(), "", JSON)
    assert isinstance(screened, AsyncBoltRequest)
    assert screened.body["event"]["text"] == "hi"
    assert screened.context.team_id == "T1"


def test_bodies_bolt_cannot_read_are_refused() -> None:
    assert screened_request(b"\xff\xfe", "", JSON) == "the body is not UTF-8"
    assert "JSON object" in str(screened_request(b"{not json", "", JSON))
    assert "JSON object" in str(screened_request(b"[1, 2]", "", JSON))
    wrong = screened_request(json.dumps(_event(user=["U1"])).encode(), "", JSON)
    assert wrong == "event.user has the wrong type"


def test_lone_surrogates_are_refused_in_json_and_in_a_form_payload() -> None:
    body = json.dumps(_event(text="find \ud800 now"))  # json.dumps escapes it: \\ud800
    assert "Unicode" in str(screened_request(body.encode(), "", JSON))
    form = urlencode({"payload": body}).encode()
    assert "Unicode" in str(screened_request(form, "", FORM))
    fine = urlencode({"payload": json.dumps(_event(text="find 🔥 now"))}).encode()
    assert isinstance(screened_request(fine, "", FORM), AsyncBoltRequest)


def test_nesting_deeper_than_slack_sends_is_refused() -> None:
    deep: object = "x"
    for _ in range(80):
        deep = {"a": deep}
    body = json.dumps(_event(blocks=[deep])).encode()
    assert screened_request(body, "", JSON) == "the body is nested deeper than 64 levels"

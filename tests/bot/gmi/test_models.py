"""Reading the provider's request envelopes."""

from __future__ import annotations

from bot.gmi import GMIRequest


def test_whole_second_timestamps_read_as_the_middle_of_their_second():
    # GMI cuts its times down to whole Unix seconds: the change happened within that second.
    request = GMIRequest.from_json(
        {"request_id": "r1", "status": "processing", "created_at": 1700000000,
         "updated_at": 1700000042}
    )  # fmt: skip
    assert request.created_at == 1700000000.5
    assert request.updated_at == 1700000042.5


def test_precise_and_missing_timestamps_are_kept_as_they_are():
    request = GMIRequest.from_json(
        {"request_id": "r1", "status": "queued", "created_at": "1700000000.25",
         "updated_at": True}
    )  # fmt: skip
    assert request.created_at == 1700000000.25
    assert request.updated_at is None

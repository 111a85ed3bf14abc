"""Hold in an SDP offer (RFC 3264 §8.4, RFC 6337 §5.3, RFC 2543's 0.0.0.0)."""

from __future__ import annotations

import pytest

from proxy.dialog.sdp import holds_media, is_sdp

SESSION = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 {address}\r\nt=0 0\r\n{session}"
AUDIO = "m=audio 4000 RTP/AVP 0\r\n{media}"
VIDEO = "m=video {port} RTP/AVP 96\r\n{media}"


def _sdp(*, address: str = "192.0.2.1", session: str = "", audio: str = "",
         video: str | None = None, video_port: int = 5000) -> bytes:
    text = SESSION.format(address=address, session=session) + AUDIO.format(media=audio)
    if video is not None:
        text += VIDEO.format(port=video_port, media=video)
    return text.encode()


@pytest.mark.parametrize(("body", "held"), [
    (_sdp(), False),
    (_sdp(audio="a=sendrecv\r\n"), False),
    (_sdp(audio="a=recvonly\r\n"), False),
    (_sdp(audio="a=sendonly\r\n"), True),
    (_sdp(audio="a=inactive\r\n"), True),
    (_sdp(session="a=sendonly\r\n"), True),  # the session level applies to every stream
    (_sdp(session="a=sendonly\r\n", audio="a=sendrecv\r\n"), False),  # media level wins
    (_sdp(address="0.0.0.0"), True),  # RFC 2543 hold
    (_sdp(audio="c=IN IP4 0.0.0.0\r\n"), True),
    (_sdp(address="0.0.0.0", audio="c=IN IP4 192.0.2.1\r\n"), False),
    (_sdp(audio="a=sendonly\r\n", video="a=sendrecv\r\n"), False),  # video still flows
    (_sdp(audio="a=sendonly\r\n", video="a=sendrecv\r\n", video_port=0), True),  # disabled
    (b"v=0\r\ns=-\r\n", False),  # no media: says nothing about hold
    (b"\xff\xfe garbage", False),
])
def test_an_offer_holds_when_every_active_stream_is_held(body: bytes, held: bool) -> None:
    assert holds_media(body) is held


def test_only_application_sdp_is_read_as_sdp() -> None:
    assert is_sdp("application/sdp") and is_sdp("Application/SDP; charset=utf-8")
    assert not is_sdp("multipart/mixed;boundary=x") and not is_sdp(None)

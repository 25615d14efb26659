"""Fixtures of the live tests: a private nginx-rtmp server (skipped cleanly when nginx or its rtmp
module is missing) and factories for publishers and players that are always stopped at teardown.

    def test_x(nginx_rtmp, publisher, player):
        pub = publisher(nginx_rtmp.url("in"), size="320x180")   # started; Publisher kwargs
        out = player(nginx_rtmp.url("in"))                       # started; Player kwargs
        assert out.wait_frames(30, timeout=10)
        nginx_rtmp.stop(); nginx_rtmp.start()                    # same port, same config

``nginx_rtmp`` is module-scoped (one server per test file) and restarted if a test left it
stopped; tests must not depend on what other tests published (use their own stream keys).
"""

from __future__ import annotations

import pytest

from .rtmp import NginxRtmp, Player, Publisher, find_nginx


@pytest.fixture(scope="session")
def nginx_available() -> tuple[str, str]:
    """(nginx binary, rtmp module path); skips the test when either is missing."""
    binary, module, reason = find_nginx()
    if binary is None or module is None:
        pytest.skip(reason)
    return binary, module


@pytest.fixture(scope="module")
def _nginx_server(nginx_available, tmp_path_factory):
    binary, module = nginx_available
    server = NginxRtmp(tmp_path_factory.mktemp("nginx"), binary=binary, module=module)
    try:
        server.start()
    except RuntimeError as e:
        pytest.skip(f"nginx-rtmp does not start here: {e}")
    yield server
    server.stop()


@pytest.fixture
def nginx_rtmp(_nginx_server) -> NginxRtmp:
    """The module's nginx-rtmp server, running (started again if a previous test stopped it).
    ``.url(key)`` -> ``rtmp://127.0.0.1:PORT/live/KEY``; ``.stop()``, ``.start()``, ``.pid``."""
    if not _nginx_server.running:
        _nginx_server.start()
    return _nginx_server


@pytest.fixture
def publisher():
    """``publisher(url, **Publisher kwargs)`` -> a started :class:`Publisher`; all stopped at teardown."""
    made: list[Publisher] = []

    def make(url: str, **kwargs) -> Publisher:
        p = Publisher(url, **kwargs)
        made.append(p)
        return p.start()

    yield make
    for p in made:
        p.stop()


@pytest.fixture
def player():
    """``player(url, **Player kwargs)`` -> a started :class:`Player`; all stopped at teardown."""
    made: list[Player] = []

    def make(url: str, **kwargs) -> Player:
        p = Player(url, **kwargs)
        made.append(p)
        return p.start()

    yield make
    for p in made:
        p.request_stop()  # all at once: each may be blocked on an idle stream for its read timeout
    for p in made:
        p.stop()

"""Invalid toxics are refused before any call reaches a server; start-up failures are clear."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from faults import (
    TOXIC_ATTRIBUTES,
    Proxy,
    ToxiproxyClient,
    ToxiproxyError,
    ToxiproxyServer,
    find_binary,
    validate_toxic,
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("lag", "downstream", 1.0, {}), r"type='lag' is not one Toxiproxy has"),
        (("latency", "sideways", 1.0, {}), r"stream='sideways' must be 'upstream' or"),
        (("latency", "downstream", 1.5, {}), r"toxicity=1.5 must be within 0..1"),
        (("latency", "downstream", 1.0, {"delay": 5}), r"no attribute 'delay'; it has latency"),
        (("bandwidth", "downstream", 1.0, {"rate": -1}), r"rate=-1 must be a non-negative"),
    ],
)
def test_invalid_toxics(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(ToxiproxyError, match=message):
        validate_toxic(*args)


def test_a_proxy_refuses_a_bad_toxic_without_a_server() -> None:
    # Port 9 (discard) on loopback: nothing is asked, the toxic is refused first.
    proxy = Proxy(ToxiproxyClient("127.0.0.1", 9), "p", "127.0.0.1:1", "127.0.0.1:2")
    with pytest.raises(ToxiproxyError, match="not one Toxiproxy has"):
        proxy.add_toxic("gremlin")


def test_an_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(ToxiproxyError, match=r"cannot be reached|is not running"):
        ToxiproxyClient("127.0.0.1", 9).version()


def test_a_missing_binary_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSFLOW_TOXIPROXY_BIN", "/nonexistent")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr("faults._toxiproxy._REPO_BINARY", Path("/none"))
    with pytest.raises(ToxiproxyError, match=r"Run `make tools`"):
        find_binary()


def test_a_server_that_exits_at_start_shows_its_output(tmp_path: Path) -> None:
    fake = tmp_path / "toxiproxy-server"
    fake.write_text("#!/bin/sh\necho 'flag provided but not defined: -seed' >&2\nexit 2\n")
    fake.chmod(0o755)
    with pytest.raises(ToxiproxyError, match=r"exited at start with code 2: flag provided but"):
        ToxiproxyServer(binary=fake).start()


def test_a_toxic_value_must_be_an_integer() -> None:
    with pytest.raises(ToxiproxyError, match=r"latency='300' must be a non-negative integer"):
        validate_toxic("latency", "downstream", 1.0, {"latency": "300"})


def test_every_toxic_type_in_the_table_is_accepted() -> None:
    for toxic_type, names in TOXIC_ATTRIBUTES.items():
        validate_toxic(toxic_type, "upstream", 0.5, dict.fromkeys(names, 1))


def test_a_server_that_never_answers_is_a_bounded_error() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(5)
        client = ToxiproxyClient("127.0.0.1", silent.getsockname()[1], timeout=0.3)
        with pytest.raises(ToxiproxyError, match=r"did not answer within timeout=0.3 s"):
            client.version()

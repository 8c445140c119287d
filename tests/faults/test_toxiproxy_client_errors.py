"""Invalid toxics are refused before any call reaches a server."""

from __future__ import annotations

import pytest

from faults import ToxiproxyClient, ToxiproxyError, find_binary, validate_toxic
from faults._toxiproxy import Proxy


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
def test_invalid_toxics(args: tuple, message: str) -> None:  # type: ignore[type-arg]
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
    monkeypatch.setattr("faults._toxiproxy._REPO_BINARY", __import__("pathlib").Path("/none"))
    with pytest.raises(ToxiproxyError, match=r"Run `make tools`"):
        find_binary()

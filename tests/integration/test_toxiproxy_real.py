"""Every Toxiproxy toxic, through the real server, as a real TCP client sees it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from faults import Proxy, ToxiproxyClient, ToxiproxyError, ToxiproxyServer

pytestmark = pytest.mark.toxiproxy


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    """A TCP echo server on loopback; the message b'close' makes it close the connection."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    server.settimeout(0.2)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        with conn:
            while not stop.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data or data == b"close":
                    return
                conn.sendall(data)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


@pytest.fixture
def proxy(toxiproxy: ToxiproxyClient, echo_port: int) -> Proxy:
    return toxiproxy.create_proxy("echo", f"127.0.0.1:{echo_port}")


def connect(proxy: Proxy) -> socket.socket:
    return socket.create_connection((proxy.listen_host, proxy.listen_port), timeout=5)


def round_trip(proxy: Proxy, payload: bytes = b"ping") -> float:
    with connect(proxy) as conn:
        started = time.perf_counter()
        conn.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = conn.recv(65536)
            assert chunk, "connection closed before the echo came back"
            received += chunk
        assert received == payload
        return time.perf_counter() - started


def test_latency_is_added_to_a_round_trip_and_removed_after(proxy: Proxy) -> None:
    baseline = round_trip(proxy)
    with proxy.toxic("latency", latency=300, jitter=0):
        slowed = round_trip(proxy)
    assert slowed - baseline >= 0.25
    assert slowed < 5
    assert proxy.toxics() == {}
    assert round_trip(proxy) < 0.25


def test_upstream_latency_delays_too(proxy: Proxy) -> None:
    with proxy.toxic("latency", stream="upstream", latency=200):
        assert round_trip(proxy) >= 0.15


def test_toxicity_zero_has_no_effect(proxy: Proxy) -> None:
    with proxy.toxic("latency", latency=1000, toxicity=0.0):
        assert round_trip(proxy) < 0.5


def test_bandwidth_limits_throughput(proxy: Proxy) -> None:
    payload = b"x" * 40_000
    fast = round_trip(proxy, payload)
    with proxy.toxic("bandwidth", rate=40):  # KB/s: 40 KB takes about a second
        slow = round_trip(proxy, payload)
    assert slow >= 0.6
    assert slow > 5 * fast


def test_a_partition_refuses_connections_and_the_heal_restores_them(proxy: Proxy) -> None:
    with proxy.partitioned(), pytest.raises(OSError):
        round_trip(proxy)
    assert round_trip(proxy) < 1


def test_reset_peer_resets_the_connection(proxy: Proxy) -> None:
    with proxy.toxic("reset_peer", timeout=0), connect(proxy) as conn:
        conn.sendall(b"ping")
        with pytest.raises(ConnectionResetError):
            conn.recv(100)
            conn.sendall(b"again")
            conn.recv(100)


def test_limit_data_cuts_the_stream_at_the_limit(proxy: Proxy) -> None:
    with proxy.toxic("limit_data", bytes=10), connect(proxy) as conn:
        conn.sendall(b"0123456789abcdefghij")
        received = b""
        while True:
            try:
                chunk = conn.recv(100)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    assert received == b"0123456789"


def test_timeout_stops_all_data(proxy: Proxy) -> None:
    with proxy.toxic("timeout", timeout=0), connect(proxy) as conn:
        conn.settimeout(0.5)
        conn.sendall(b"ping")
        with pytest.raises(TimeoutError):
            conn.recv(100)


def test_slicer_delivers_the_answer_in_pieces(proxy: Proxy) -> None:
    with (
        proxy.toxic("slicer", average_size=2, size_variation=1, delay=20_000),
        connect(proxy) as conn,
    ):
        conn.sendall(b"0123456789")
        chunks = []
        received = b""
        while len(received) < 10:
            chunk = conn.recv(100)
            assert chunk
            chunks.append(chunk)
            received += chunk
    assert received == b"0123456789"
    assert len(chunks) >= 3


def test_slow_close_delays_the_close(proxy: Proxy) -> None:
    def time_to_eof() -> float:
        with connect(proxy) as conn:
            conn.sendall(b"close")
            started = time.perf_counter()
            while conn.recv(100):
                pass
            return time.perf_counter() - started

    assert time_to_eof() < 0.3
    with proxy.toxic("slow_close", delay=600):
        assert time_to_eof() >= 0.45


def test_the_proxy_is_really_in_the_path(proxy: Proxy) -> None:
    proxy.verify_in_path()


def test_two_servers_in_one_process_keep_their_own_proxies(
    toxiproxy: ToxiproxyClient, echo_port: int
) -> None:
    with ToxiproxyServer() as second:
        other = second.client()
        toxiproxy.create_proxy("first-only", f"127.0.0.1:{echo_port}")
        other.create_proxy("second-only", f"127.0.0.1:{echo_port}")
        assert [p.name for p in toxiproxy.proxies()] == ["first-only"]
        assert [p.name for p in other.proxies()] == ["second-only"]


def test_a_taken_port_and_a_missing_binary_are_clear_errors(
    toxiproxy_server: ToxiproxyServer, tmp_path: object
) -> None:
    with pytest.raises(ToxiproxyError, match=r"the port is taken"):
        ToxiproxyServer(port=toxiproxy_server.port).start()
    with pytest.raises(ToxiproxyError, match=r"does not exist. Run `make tools`"):
        ToxiproxyServer(binary="/nonexistent/toxiproxy-server").start()


def test_the_block_cleans_up_even_when_it_raises(proxy: Proxy) -> None:
    with pytest.raises(RuntimeError, match="boom"), proxy.toxic("latency", latency=100):
        assert list(proxy.toxics()) == ["latency_downstream"]
        raise RuntimeError("boom")
    assert proxy.toxics() == {}
    with pytest.raises(RuntimeError, match="boom"), proxy.partitioned():
        raise RuntimeError("boom")
    assert round_trip(proxy) < 1


def test_a_named_toxic_on_the_upstream_is_listed_by_its_name(proxy: Proxy) -> None:
    name = proxy.add_toxic("slicer", stream="upstream", name="chop", average_size=4)
    assert name == "chop"
    assert proxy.toxics() == {"chop": "slicer"}
    assert round_trip(proxy, b"0123456789") < 1  # sliced, yet every byte arrives
    proxy.remove_toxic("chop")
    assert proxy.toxics() == {}


def test_the_servers_refusals_are_toxiproxy_errors(
    toxiproxy: ToxiproxyClient, proxy: Proxy, echo_port: int
) -> None:
    # The server's words, decoded, and what to do about them: no raw bytes.
    with pytest.raises(
        ToxiproxyError, match=r"refused: This proxy already exists\. Delete the proxy first"
    ) as refused:
        toxiproxy.create_proxy("echo", f"127.0.0.1:{echo_port}")
    assert "b'" not in str(refused.value)
    with pytest.raises(ToxiproxyError, match=r"upstream='echo-service' is not host:port"):
        toxiproxy.create_proxy("bad", "echo-service")
    with pytest.raises(ToxiproxyError, match=r"no proxy named 'nowhere'"):
        toxiproxy.get_proxy("nowhere")
    proxy.add_toxic("latency", latency=1)
    with pytest.raises(
        ToxiproxyError, match=r"toxic already exists \(HTTP 409\)\. Remove the toxic first"
    ) as duplicate:
        proxy.add_toxic("latency", latency=1)
    assert "b'" not in str(duplicate.value)
    with pytest.raises(ToxiproxyError, match=r"toxic not found.*proxy\.toxics\(\)"):
        proxy.remove_toxic("never-added")
    proxy.delete()
    assert toxiproxy.proxies() == []
    with pytest.raises(ToxiproxyError, match=r"no proxy named 'echo' \(any more\)"):
        proxy.disable()


def test_reset_heals_every_proxy(toxiproxy: ToxiproxyClient, proxy: Proxy) -> None:
    proxy.add_toxic("latency", latency=2000)
    proxy.disable()
    toxiproxy.reset()
    assert proxy.toxics() == {}
    assert round_trip(proxy) < 1


def test_a_proxy_that_is_not_in_the_path_is_caught(proxy: Proxy, echo_port: int) -> None:
    # The same proxy, but with the echo server's own address: disabling the proxy does not stop
    # traffic to that address, which is what a client that bypasses the proxy looks like.
    bypassed = Proxy(proxy.client, proxy.name, f"127.0.0.1:{echo_port}", proxy.upstream)
    with pytest.raises(ToxiproxyError, match=r"is not in the path: .* accepted a connection"):
        bypassed.verify_in_path()
    assert round_trip(proxy) < 1  # verify_in_path brought the real proxy back up


def test_the_server_reports_its_version(toxiproxy: ToxiproxyClient) -> None:
    # `go install` builds carry no version stamp: v2.5.0 built that way answers "git".
    assert toxiproxy.version().strip()


def test_a_listen_address_in_use_is_a_toxiproxy_error(
    toxiproxy: ToxiproxyClient, proxy: Proxy, echo_port: int
) -> None:
    with pytest.raises(ToxiproxyError, match=r"answered 500: .*address already in use"):
        toxiproxy.create_proxy("twin", f"127.0.0.1:{echo_port}", listen=proxy.listen)

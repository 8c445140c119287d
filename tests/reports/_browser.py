"""Real headless Chromium for the report tests, driven over the DevTools protocol.

Debian's ``chromium`` is installed by ``scripts/ensure-chromium`` (``make test`` runs it; the
``chromium`` fixture runs it too when the browser is missing). Each browser gets a fresh profile
folder and is started in a session of its own, so the test can end exactly that process group.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import websocket

ROOT = Path(__file__).resolve().parents[2]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1200,1600",
)
START_SECONDS = 90.0  # a loaded 2-core machine starts Chromium slowly; this is a bound, not a goal


def chromium_binary() -> str:
    """The chromium command, installed by the project's own set-up script when missing."""
    found = shutil.which("chromium")
    if found is None:
        subprocess.run([str(ROOT / "scripts" / "ensure-chromium")], check=True, timeout=1200)
        found = shutil.which("chromium")
    assert found, "scripts/ensure-chromium ran but there is still no chromium on PATH"
    return found


class Page:
    """One browser tab over a DevTools websocket: commands, and the events seen so far."""

    def __init__(self, url: str) -> None:
        self._socket = websocket.create_connection(url, timeout=60)
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its answer, keeping every event that arrives meanwhile."""
        self._next += 1
        self._socket.send(json.dumps({"id": self._next, "method": method, "params": params}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            message = json.loads(self._socket.recv())
            if message.get("id") == self._next:
                if "error" in message:
                    raise AssertionError(f"{method} failed: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            self.events.append(message)
        raise AssertionError(f"no answer to {method} within 60 s")

    def wait_for(self, method: str, seconds: float = 60.0) -> None:
        """Wait until the event ``method`` has arrived."""
        deadline = time.monotonic() + seconds
        while not any(e.get("method") == method for e in self.events):
            if time.monotonic() > deadline:
                raise AssertionError(f"no {method} event within {seconds} s")
            self.events.append(json.loads(self._socket.recv()))

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (the test's probe, not the page's)."""
        answer = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression!r} threw {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def screenshot(self, clip: dict[str, float] | None = None) -> bytes:
        """A PNG of the viewport, or of ``clip`` (x, y, width, height in page pixels)."""
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": True}
        if clip is not None:
            params["clip"] = {**clip, "scale": 1}
        return base64.b64decode(self.send("Page.captureScreenshot", **params)["data"])

    def console_errors(self) -> list[str]:
        """Every console error, uncaught exception and error log entry seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(str(params.get("exceptionDetails")))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                found.append(str(params.get("args")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                found.append(str(params["entry"].get("text")))
        return found

    def close(self) -> None:
        """Close the websocket."""
        self._socket.close()


@contextmanager
def open_page(binary: str, profile: Path, file: Path) -> Iterator[Page]:
    """Start Chromium with a fresh ``profile``, open ``file`` and yield the loaded page."""
    process = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    page: Page | None = None
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_SECONDS
        while not (port_file.exists() and port_file.read_text().strip()):
            assert process.poll() is None, f"chromium exited with {process.returncode}"
            assert time.monotonic() < deadline, (
                f"chromium wrote no DevTools port in {START_SECONDS} s"
            )
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=30).json()
        tab = next(t for t in targets if t.get("type") == "page")
        page = Page(tab["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log"):
            page.send(f"{domain}.enable")
        page.send("Page.navigate", url=file.resolve().as_uri())
        page.wait_for("Page.loadEventFired")
        yield page
    finally:
        if page is not None:
            page.close()
        # End exactly the browser this test started: its own process group, by its id.
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

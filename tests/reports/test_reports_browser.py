"""The HTML report opened in real headless Chromium: no console error, verdict and plots shown."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reports import ResilienceResult, write_reports
from tests.reports._browser import chromium_binary, open_page


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium (installed by scripts/ensure-chromium when missing)."""
    return chromium_binary()


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def near(image: np.ndarray, colour: tuple[int, int, int], within: int = 30) -> int:
    return int((np.abs(image - np.array(colour)).sum(axis=-1) < within).sum())


@pytest.mark.parametrize("which", ["invalid", "load"])
def test_the_report_reads_in_chromium_with_no_console_error(
    chromium: str,
    tmp_path: Path,
    which: str,
    sample: ResilienceResult,
    load_sample: ResilienceResult,
) -> None:
    result = sample if which == "invalid" else load_sample
    page_file = write_reports(result, tmp_path / "out", formats=("html",))["html"]
    with open_page(chromium, tmp_path / "profile", page_file) as page:
        # The DOM: the verdict badge, the score, and every plot decoded by the browser.
        assert page.evaluate("document.querySelector('.headline .verdict').textContent") == (
            result.verdict.upper()
        )
        assert page.evaluate("document.getElementById('score').textContent").startswith(
            "resilience score"
        )
        images = page.evaluate(
            "Array.from(document.images).map(i => [i.closest('figure').id, i.complete,"
            " i.naturalWidth, i.naturalHeight])"
        )
        ids = {image[0] for image in images}
        assert "plot-runs" in ids and ("plot-load" in ids) == (which == "load")
        assert all(
            complete and width > 300 and height > 100 for _, complete, width, height in images
        )
        assert page.evaluate("document.scripts.length") == 0
        # The screenshot: not blank, and the verdict's colour is on it.
        top = pixels(page.screenshot())
        assert len(np.unique(top.reshape(-1, 3), axis=0)) > 50
        badge = {"invalid": (198, 40, 40), "valid": (46, 125, 50)}[result.verdict]
        assert near(top, badge) > 300, "the verdict badge is not on the screenshot"
        # And one plot, captured where the browser laid it out: drawn, not an empty box.
        box = page.evaluate(
            "(() => { const r = document.querySelector('#plot-runs img').getBoundingClientRect();"
            " return {x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height}; })()"
        )
        assert box["width"] > 300 and box["height"] > 100
        plot = pixels(page.screenshot(clip=box))
        assert (plot.std(axis=(0, 1)) > 20).all(), "the plot area is blank"
        assert near(plot, (46, 125, 50)) > 200  # completed runs are green bars
        errors = page.console_errors()
    assert errors == []


def test_the_console_check_sees_what_the_policy_blocks(chromium: str, tmp_path: Path) -> None:
    # A negative control: a page whose CSP refuses an image must show as a console error, or the
    # test above could pass without looking.
    page_file = tmp_path / "blocked.html"
    page_file.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'\"></head><body><p>x</p>"
        "<img src='data:image/png;base64,iVBORw0KGgo='></body></html>",
        encoding="utf-8",
    )
    with open_page(chromium, tmp_path / "profile", page_file) as page:
        page.evaluate("1")  # let the console events arrive
        errors = page.console_errors()
    assert any("Content Security Policy" in e for e in errors), errors

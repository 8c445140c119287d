"""Markdown and HTML: verdict first, every result kind, escaping, long values, self-containment."""

from __future__ import annotations

import base64
import html
import re
from html.parser import HTMLParser

import pytest

from reports import (
    HarnessError,
    ResilienceResult,
    compare,
    load_png,
    render_html,
    render_markdown,
    run_events_png,
    runs_png,
    steps_png,
)
from reports._render_markdown import MAX_ANOMALIES
from tests.reports._builders import TOKEN, anomaly, fault, invariant, make_result, run

HOSTILE = "<script>alert(1)</script>"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """The parts of a page the tests look at: ids, images, and the text of each element id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.images: list[dict[str, str]] = []
        self.tags: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append(tag)
        if "id" in values:
            self.ids.append(values["id"])
        if tag == "img":
            self.images.append(values)


# --- every kind of result, each renderer ----------------------------------------------------


def test_markdown_puts_the_verdict_first(each_result: ResilienceResult) -> None:
    text = render_markdown(each_result)
    first = text.splitlines()[0]
    assert first.startswith(f"# {each_result.verdict.upper()}: resilience report for ")
    assert f"**Verdict: {each_result.verdict.upper()}**" in text.splitlines()[2]
    assert f"resilience score **{each_result.score:.1f}** / 100" in text
    # The anomalies (with their replay commands) come before the figures.
    assert text.index("## Anomalies") < text.index("## Invariants") < text.index("## Figures")
    for item in each_result.anomalies:
        assert f"chaosflow replay {item.replay_token}" in text


def test_html_shows_verdict_score_and_plots(each_result: ResilienceResult) -> None:
    page = render_html(each_result)
    parsed = Page(page)
    assert f'class="verdict verdict-{each_result.verdict}">{each_result.verdict.upper()}' in page
    assert f"<strong>{each_result.score:.1f}</strong> / 100" in page
    plots = {img["alt"].split(" ")[0] for img in parsed.images}
    assert ("Timeline" in plots and "Retries," in plots) or each_result.steps == ()
    for image in parsed.images:
        png = base64.b64decode(image["src"].removeprefix("data:image/png;base64,"))
        assert png.startswith(PNG_SIGNATURE)
    assert "<script" not in page.lower()


def test_the_load_result_has_its_section_and_the_load_plot(load_sample: ResilienceResult) -> None:
    page = render_html(load_sample)
    assert 'id="plot-load"' in page and "Throughput and end-to-end latency" in page
    assert "<td>end-to-end latency p50 / p95 / p99 / max</td>" in page
    assert "130.0 ms / 1400.0 ms / 1850.0 ms / 2600.0 ms" in page
    assert "<td>e2e_p99_ms &lt; 2000</td><td>1,850</td><td>passed</td>" in page
    assert "<td>#0 network latency on store</td>" in page
    text = render_markdown(load_sample)
    assert "### Load" in text and "| completion rate | 76.7% |" in text


def test_an_error_result_says_the_harness_failed_and_has_no_score() -> None:
    failed = make_result(
        error=HarnessError(
            kind="ToxiproxyError", message="no server on 127.0.0.1:8474", during="run"
        )
    )
    text = render_markdown(failed)
    assert text.startswith("# ERROR: ")
    assert "resilience score **none** |" in text
    assert "**The harness could not finish the run** (`ToxiproxyError` during run)" in text
    page = render_html(failed)
    assert 'id="error"' in page and "no server on 127.0.0.1:8474" in page
    assert "verdict-error" in page and "no score: the harness failed" in page


# --- Markdown details -----------------------------------------------------------------------


def test_markdown_lists_anomalies_with_replay_commands(sample: ResilienceResult) -> None:
    text = render_markdown(sample)
    assert "## Anomalies (2)" in text
    assert "1. `duplicate_effect` in run `run-1` at `charge`: charged twice for one order" in text
    assert "   ```sh\n   chaosflow replay tok-dup\n   ```" in text
    assert "| `effects_once` | invalid | 1 |" in text
    assert "| `partition` | `worker-1` | 5.000 s | never healed | SIGKILL |" in text
    assert "| `crash` | `worker-1` | 1.500 s | at once (an instant) | SIGKILL |" in text


def test_markdown_stays_short_with_many_anomalies() -> None:
    many = tuple(anomaly(run_id=f"run-{i}", token=f"tok-{i}") for i in range(40))
    result = make_result(invariants=(invariant("effects", "invalid", *many),), replay_command=None)
    text = render_markdown(result)
    assert text.count("chaosflow replay tok-") == MAX_ANOMALIES
    assert f"... and {40 - MAX_ANOMALIES} more anomalies in report.html and result.json." in text
    assert len(text) < 8000


def test_markdown_says_when_there_is_nothing() -> None:
    text = render_markdown(make_result(invariants=(), runs=(), faults=(), replay_command=None))
    assert "**Verdict: UNKNOWN**" in text
    assert "No invariant was checked" in text
    assert "None found." in text and "No fault was injected." in text
    assert "Replay this run" not in text


def test_markdown_escapes_markup_in_user_strings() -> None:
    result = make_result(
        scenario=HOSTILE + " | $x$",
        invariants=(
            invariant(
                "pipes|in|name",
                "invalid",
                anomaly(detail="see [here](javascript:x) *now*", token="a`b"),
                note="note | with pipe",
            ),
        ),
    )
    text = render_markdown(result)
    assert HOSTILE not in text
    assert r"\<script\>" in text and r"\$x\$" in text
    assert "`pipes\\|in\\|name`" in text  # a code span in a table cell still escapes '|'
    assert r"\[here\](javascript:x) \*now\*" in text
    assert "````sh\n   chaosflow replay a`b\n   ````" not in text
    assert "```sh\n   chaosflow replay a`b\n   ```" in text  # a backtick inside a fenced block
    checker_row = next(line for line in text.splitlines() if "pipes" in line)
    assert len(re.findall(r"(?<!\\)\|", checker_row)) == 5  # every row keeps its columns


def test_markdown_clips_long_values_and_keeps_the_command_whole() -> None:
    detail = "x" * 5000
    result = make_result(
        invariants=(invariant("e", "invalid", anomaly(detail=detail, token=TOKEN)),)
    )
    text = render_markdown(result)
    assert detail not in text
    assert "more characters in result.json)" in text
    assert f"chaosflow replay {TOKEN}" in text  # a command must stay copyable
    assert result.anomalies[0].detail == detail  # and the JSON keeps it whole
    assert detail in result.dumps()


def test_markdown_shows_the_baseline_comparison(sample: ResilienceResult) -> None:
    baseline = make_result(invariants=(invariant("effects_once", "valid"),), timeline=None)
    text = render_markdown(sample, comparison=compare(sample, baseline))
    assert text.index("## Compared with the baseline") < text.index("## Anomalies")
    assert "**Regressed: verdict went from 'valid' to 'invalid'" in text
    # baseline: valid, (0.5 * 1 + 0.3 * 1/3) / 0.8 = 0.75 -> 60 + 40 * 0.75 = 90.
    assert "| score | 90.0 | 8.3 | -81.7 |" in text


# --- HTML details ---------------------------------------------------------------------------


def test_html_is_self_contained() -> None:
    page = render_html(make_result())
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    policy = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
    assert f'http-equiv="Content-Security-Policy" content="{policy}"' in html.unescape(page)


def test_html_escapes_everything_from_the_workflow() -> None:
    result = make_result(
        scenario=HOSTILE,
        invariants=(
            invariant(
                HOSTILE,
                "invalid",
                anomaly(detail=HOSTILE, token=HOSTILE, steps=(HOSTILE,), run_id=HOSTILE),
            ),
        ),
        faults=(fault(kind=HOSTILE, target=HOSTILE),),
        runs=(run(HOSTILE, "completed", error=HOSTILE),),
        replay_command=HOSTILE,
        config={"workflow": HOSTILE, "inputs": [{"name": HOSTILE}]},
    )
    page = render_html(result)
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8
    assert "script" not in Page(page).tags


def test_html_folds_a_long_token_and_keeps_the_table_readable() -> None:
    result = make_result(invariants=(invariant("e", "invalid", anomaly(token=TOKEN)),))
    page = render_html(result)
    table = page[
        page.index('id="anomaly-table"') : page.index("</table>", page.index("anomaly-table"))
    ]
    assert '<details class="token"><summary><code>cf1.eyJwbGFuIjp7ImZhdWx0…</code>' in table
    assert f"({len(TOKEN)} characters)</summary><code>{TOKEN}</code></details>" in table
    assert "overflow-wrap: anywhere" in page  # the full token wraps instead of widening the table


def test_html_clips_long_details_with_the_full_value_in_the_json() -> None:
    detail = "y" * 4000
    result = make_result(invariants=(invariant("e", "invalid", anomaly(detail=detail)),))
    page = render_html(result)
    assert detail not in page and "more characters in result.json)" in page
    assert detail in result.dumps()


def test_html_names_the_case_of_each_anomaly_in_an_exploration() -> None:
    cases = [
        {
            "id": f"case-{i:03d}",
            "description": f"crash at after_action of step {i}",
            "verdict": "invalid",
            "replay_token": f"cf1.case{i}",
            "replay_command": f"chaosflow replay cf1.case{i}",
        }
        for i in range(1, 4)
    ]
    found = tuple(anomaly(case=c["id"], token=c["replay_token"]) for c in cases)
    result = make_result(
        cases=cases,
        invariants=(invariant("effects", "invalid", *found),),
        runs=tuple(run("run-1", "completed", case=c["id"]) for c in cases),
        faults=(),
        timeline=None,
        replay_command="chaosflow replay cf1.case1",
    )
    page = render_html(result)
    # Three rows with the same run id, each saying which case it belongs to.
    for i in range(1, 4):
        assert f"<td>case-00{i}: crash at after_action of step {i}</td>" in page
    assert "Reruns the first failing case (case-001)." in page
    assert "<code>chaosflow replay cf1.case1</code>" in page
    text = render_markdown(result)
    assert "(case-002: crash at after\\_action of step 2)" in text


def test_html_shows_the_baseline_comparison(sample: ResilienceResult) -> None:
    page = render_html(sample, comparison=compare(sample, sample))
    assert "Compared with the baseline" in page
    assert "No regression against the baseline." in page


# --- plots ------------------------------------------------------------------------------------


def test_every_plot_is_a_png_and_absent_when_there_is_nothing(
    sample: ResilienceResult, load_sample: ResilienceResult
) -> None:
    for draw in (runs_png, steps_png, run_events_png):
        png = draw(sample)
        assert png is not None and png.startswith(PNG_SIGNATURE)
    assert load_png(sample) is None
    assert (png := load_png(load_sample)) is not None and png.startswith(PNG_SIGNATURE)
    empty = make_result(runs=(), steps=(), faults=(), timeline=None)
    assert runs_png(empty) is None and steps_png(empty) is None and run_events_png(empty) is None


@pytest.mark.parametrize("name", [r"cost $\bogus{5}$ \N{GRINNING FACE} 订单", "x" * 400])
def test_plots_survive_names_matplotlib_would_misread(name: str) -> None:
    # '$...$' is mathtext to matplotlib (and '\bogus' would not parse), and the emoji is missing
    # from the bundled font: under filterwarnings=error a glyph warning would fail this test.
    many = tuple(run(f"r{i}", "completed", i * 0.1, i * 0.1 + 1) for i in range(60))
    result = make_result(scenario=name, runs=many)
    assert (png := runs_png(result)) is not None and png.startswith(PNG_SIGNATURE)


def test_a_point_fault_is_drawn_where_a_window_would_be_empty() -> None:
    import io

    import numpy as np
    from PIL import Image

    def red_pixels(png: bytes) -> int:
        pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
        return int(((red > 180) & (green < 90) & (blue < 90)).sum())

    runs = (run("r1", "completed", 0.0, 5.0),)
    with_crash = make_result(runs=runs, faults=(fault("crash", 0.0, 0.0),))
    without = make_result(runs=runs, faults=())
    crash_png, plain_png = runs_png(with_crash), runs_png(without)
    assert crash_png is not None and plain_png is not None
    assert red_pixels(crash_png) > red_pixels(plain_png) + 100  # the crash line and its label


def test_html_lists_every_anomaly_and_details_the_first_ones() -> None:
    from reports._render_html import MAX_ANOMALY_DETAILS

    many = tuple(anomaly(run_id=f"run-{i}", token=f"tok-{i}") for i in range(70))
    page = render_html(make_result(invariants=(invariant("effects", "invalid", *many),)))
    assert page.count('<a href="#anomaly-') == 70
    assert page.count('<div class="anomaly" id="anomaly-') == MAX_ANOMALY_DETAILS
    assert f"The details of {70 - MAX_ANOMALY_DETAILS} more anomalies are in result.json." in page

"""Load shapes as functions of time, and the open-model arrival schedule."""

from __future__ import annotations

import pytest

from loadtests import SHAPES, ArrivalSchedule, peak_users, users_at


def at(shape: dict[str, object], users: int, duration: float, *times: float) -> list[int | None]:
    return [users_at(shape, users, duration, t) for t in times]


def test_steady_holds_its_users_and_ends_at_the_duration() -> None:
    assert at({"kind": "steady"}, 7, 10, 0, 5, 9.99, 10, 11) == [7, 7, 7, None, None]


def test_a_ramp_rises_linearly_holds_and_comes_down() -> None:
    shape = {"kind": "ramp", "start_users": 2, "up_s": 10.0, "down_s": 5.0}
    assert at(shape, 12, 30, 0, 5, 10, 20, 25, 27.5, 29.9) == [2, 7, 12, 12, 12, 6, 0]


def test_a_ramp_without_up_s_rises_over_the_whole_run() -> None:
    shape = {"kind": "ramp", "start_users": 0, "up_s": None, "down_s": 0.0}
    assert at(shape, 10, 20, 0, 10, 18) == [0, 5, 9]
    shape["down_s"] = 4.0  # the rise leaves room for the ramp-down
    assert at(shape, 10, 20, 0, 8, 16, 18) == [0, 5, 10, 5]


def test_steps_add_users_every_interval_up_to_the_most() -> None:
    shape = {"kind": "step", "step_users": 3, "every_s": 5.0}
    assert at(shape, 10, 40, 0, 4.9, 5, 10, 15, 39) == [3, 3, 6, 9, 10, 10]


def test_a_spike_runs_the_peak_only_inside_its_window() -> None:
    shape = {"kind": "spike", "base_users": 2, "at_s": 10.0, "for_s": 5.0}
    assert at(shape, 20, 30, 0, 9.9, 10, 14.9, 15, 29) == [2, 2, 20, 20, 2, 2]


def test_soak_ramps_up_then_holds() -> None:
    assert at({"kind": "soak", "up_s": 10.0}, 10, 600, 0, 5, 10, 599) == [0, 5, 10, 10]


def test_the_open_model_keeps_its_users_for_the_whole_run() -> None:
    assert at({"kind": "arrival_rate"}, 50, 10, 0, 9) == [50, 50]


@pytest.mark.parametrize("kind", SHAPES)
def test_no_shape_ever_runs_more_than_users_or_past_the_duration(kind: str) -> None:
    shape = {
        "kind": kind,
        "start_users": 0,
        "up_s": 3.0,
        "down_s": 2.0,
        "step_users": 4,
        "every_s": 2.0,
        "base_users": 1,
        "at_s": 3.0,
        "for_s": 2.0,
    }
    counts = [users_at(shape, 9, 12.0, t / 4) for t in range(0, 60)]
    assert all(c is None or 0 <= c <= 9 for c in counts)
    assert counts[48:] == [None] * 12  # from t=12 on
    assert peak_users(shape, 9, 12.0) <= 9


def test_an_unknown_shape_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"shape kind='zigzag' is not a shape"):
        users_at({"kind": "zigzag"}, 1, 10, 0)


def test_the_schedule_hands_out_iterations_at_the_rate() -> None:
    schedule = ArrivalSchedule(4.0, origin=100.0, stop_at=102.0)
    taken = []
    for _ in range(20):
        intended, dropped = schedule.take(100.0)  # a free user, always early: nothing dropped
        assert dropped == 0
        if intended is None:
            break
        taken.append(intended)
    assert taken == [100.0, 100.25, 100.5, 100.75, 101.0, 101.25, 101.5, 101.75]


def test_iterations_due_while_no_user_was_free_are_dropped_not_started_late() -> None:
    schedule = ArrivalSchedule(10.0, origin=0.0, stop_at=100.0)
    assert schedule.take(0.0) == (0.0, 0)
    # The only user comes back 1.02 s later: the iterations due at 0.1 .. 0.9 found nobody.
    intended, dropped = schedule.take(1.02)
    assert dropped == 9
    assert intended == pytest.approx(1.0)  # within the tolerance: started, measured from 1.0
    assert schedule.dropped == 9


def test_a_process_with_half_the_users_takes_half_the_rate() -> None:
    schedule = ArrivalSchedule(10.0, origin=0.0, stop_at=100.0)
    first, _ = schedule.take(0.0, share=0.5)
    second, _ = schedule.take(0.0, share=0.5)
    assert (first, second) == (0.0, pytest.approx(0.2))


def test_the_schedule_ends_at_its_stop_and_counts_what_it_dropped_up_to_there() -> None:
    schedule = ArrivalSchedule(2.0, origin=0.0, stop_at=3.0)
    intended, dropped = schedule.take(10.0)
    assert intended is None
    assert dropped == 6  # 0, 0.5, ... 2.5: every iteration of the run, none beyond its stop


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match=r"rate=0.0 must be a positive number"):
        ArrivalSchedule(0.0, origin=0.0, stop_at=1.0)

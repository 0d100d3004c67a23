"""The benchmark's achieved rate (the answers' own, as the stages alone are measured) and the rates it runs."""

from __future__ import annotations

from benchmarks.bench import arrival_rates, cpu_budget
from benchmarks.flow_latency import Answer, latency_summary


def answers_at(rate: float, latency, count: int = 101) -> list[Answer]:
    """``count`` requests sent at ``rate`` per second, request i answered ``latency(i)`` s later."""
    return [Answer(f"r{i}", i / rate, i / rate + latency(i), "completed") for i in range(count)]


def test_a_flow_that_keeps_up_achieves_the_offered_rate_whatever_its_latency():
    for latency in (0.01, 0.2, 0.9):
        assert latency_summary(answers_at(100.0, lambda i: latency))["requests_per_s"] == 100.0


def test_a_flow_that_falls_behind_achieves_less_than_offered():
    # the backlog grows: each answer 5 ms later than the one before, so answers come every 15 ms
    summary = latency_summary(answers_at(100.0, lambda i: 0.1 + 0.005 * i))
    assert summary["requests_per_s"] == round(100 / 1.5, 1)


def test_unanswered_requests_are_counted_and_not_in_the_rate():
    answers = answers_at(100.0, lambda i: 0.1)
    answers[-1].answered = None
    summary = latency_summary(answers)
    assert (summary["answered"], summary["unanswered"], summary["requests_per_s"]) == (100, 1, 100.0)


def test_the_rates_run_reach_above_target_a_and_keep_both_targets_exact():
    rates = arrival_rates(None, 196.1, {"b": 176.2, "a": 211.5})
    assert rates == [49.0, 98.0, 156.9, 176.2, 211.5, 232.7]  # 90% of capacity (176.5) merged into target (b)'s
    assert arrival_rates([30.0, 10.0], 196.1, {"b": 176.2, "a": 211.5}) == [10.0, 30.0]  # explicit rates as given


def test_the_cpu_budget_bounds_target_a_by_what_the_cores_allow():
    row = {"offered_per_s": 211.5, "cpu_ms_per_request": 9.4, "client_cpu_ms_per_request": 0.6}
    budget = cpu_budget(row, {"stage": "translation", "stage_cpu_ms_per_request": 2.5}, cores=2)
    assert budget["flow_cpu_ms_per_request"] == 10.0 and budget["max_share"] == 0.5  # 2 × 2.5 / 10
    assert cpu_budget(None, {"stage_cpu_ms_per_request": 2.5}, 2) is None  # target (a)'s rate not run

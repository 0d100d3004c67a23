"""``passerelle bench`` in a tiny configuration: every figure is there and sane (no timing assertion:
speed is what the benchmark prints, never what a test asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from passerelle import PROJECT_ROOT

pytestmark = pytest.mark.e2e

TINY = ["--rates", "4", "--rate-seconds", "2", "--saturation-seconds", "2", "--saturation-clients", "2",
        "--stage-requests", "600", "--hop-messages", "300", "--hop-latency-seconds", "1",
        "--translation-seconds", "0.2", "--no-compare-polling"]
LATENCY = ("requests_per_s", "p50_ms", "p95_ms", "p99_ms", "cpu_ms_per_request")
FLOW_ROW = (*LATENCY, "requests", "answered", "unanswered", "completed", "max_ms", "sustained",
            "cpu_ms_per_request_by_process", "client_cpu_ms_per_request", "gets_per_request",
            "p99_ms_excl_country_a", "country_a_leg_p50_ms", "vs_raw_hop", "vs_translation")


def positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[dict, str]:
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    done = subprocess.run([Path(sys.executable).parent / "passerelle", "bench", "--json", str(out), *TINY],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_the_baselines_are_measured(run):
    report, _ = run
    assert all(positive(report["translation"][k]) for k in LATENCY)
    raw = report["raw_hop"]
    assert raw["status"] == "ok" and all(positive(raw[k]) for k in LATENCY)
    # the raw hop carries messages of the flow events' mean encoded size
    sizes = report["stages"]["event_bytes"]
    assert set(sizes) == {"ps_requested", "consent_decisions", "ncp_outbound", "ncp_inbound", "ps_outcomes"}
    assert min(sizes.values()) < raw["message_bytes"] < max(sizes.values())


def test_every_stage_alone_has_a_throughput_and_a_cpu_cost(run):
    report, _ = run
    stages = report["stages"]["stages"]
    assert [s["stage"] for s in stages] == ["consent", "router", "foreign-ncp", "translation", "audit"]
    for s in stages:
        assert s["status"] == "ok", s
        assert positive(s["requests_per_s"]) and positive(s["cpu_ms_per_request"]), s
    assert next(s for s in stages if s["stage"] == "audit")["outputs"] == 5 * 600  # one record per event


def test_the_flow_rows_have_every_figure(run):
    report, _ = run
    flow = report["flow"]
    rows = [flow["saturation"], *flow["rates"]]
    assert [r["offered_per_s"] for r in flow["rates"]] == [4.0]
    for row in rows:
        assert set(FLOW_ROW) <= set(row), set(FLOW_ROW) - set(row)
        assert row["answered"] == row["completed"] == row["requests"] > 0 and row["unanswered"] == 0
        assert all(positive(row[k]) for k in LATENCY), row
        assert row["p50_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
        assert 0 <= row["p99_ms_excl_country_a"] <= row["p99_ms"]
        assert row["gets_per_request"] < 1  # Prefer: wait: the POST itself usually carries the answer (ADR 74)
        assert {"gateway", "consent", "router", "foreign-ncp", "translation", "broker"} <= set(
            row["cpu_ms_per_request_by_process"])
        assert all(positive(row[base][k]) for base in ("vs_raw_hop", "vs_translation")
                   for k in ("throughput", "p50", "cpu"))
    assert flow["rates"][0]["requests"] == 8  # 4/s for 2 s, open loop


def test_targets_are_judged_and_printed(run):
    report, stdout = run
    targets = report["targets"]
    assert isinstance(targets["a"]["met"], bool) and isinstance(targets["b"]["met"], bool)
    assert "cpu_budget" in targets["a"]  # None here: the tiny run does not offer target (a)'s rate
    slowest = min(s["requests_per_s"] for s in report["stages"]["stages"])
    assert targets["a"]["slowest_stage_per_s"] == slowest
    assert targets["b"]["rate_per_s"] == round(slowest / 2, 1)
    assert "| measurement | req/s | p50 ms | p95 ms | p99 ms |" in stdout
    assert stdout.count("MET") >= 2 and "target (a)" in stdout and "target (b)" in stdout
    assert report["bounds"]["max_flow_requests"] > 0 and positive(report["flow"]["broker_rss_mib_at_end"])


def test_the_fetch_wait_benchmark_prints_a_latency_and_an_idle_cost_per_wait():
    done = subprocess.run([sys.executable, "-m", "benchmarks.fetch_wait", "--waits", "50", "--topics", "1",
                           "--records", "10", "--consumers", "1", "--seconds", "1"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    [row] = [line for line in done.stdout.splitlines() if line.startswith("| 50 |")]
    wait, topics, latency, broker, client = [cell.strip() for cell in row.strip("|").split("|")]
    p10, p50, p90, most = map(float, latency.split(" / "))
    assert (wait, topics) == ("50", "1") and 0 <= p10 <= p50 <= p90 <= most
    assert float(broker) >= 0 and float(client) >= 0

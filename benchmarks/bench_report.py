"""``passerelle bench``'s report as text: one markdown table of every measurement, the targets, and
the CPU of each process of the flow (where a request's CPU goes)."""

from __future__ import annotations


def num(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def ratio_cell(r: dict | None) -> str:
    if not r:
        return "—"
    def g(x):
        return "—" if x is None else f"{x:.3g}"
    return f"{g(r['throughput'])} / {g(r['p50'])} / {g(r['cpu'])}"


def table(report: dict) -> list[str]:
    head = ("| measurement | req/s | p50 ms | p95 ms | p99 ms | p99 ms excl. country A | CPU ms/req "
            "| flow ÷ raw hop (req/s / p50 / CPU) | flow ÷ translation (req/s / p50 / CPU) |")
    lines = [head, "|" + "---|" * 9]

    def line(name, r, excl=None, vs_raw=None, vs_tr=None):
        lines.append(f"| {name} | {num(r.get('requests_per_s'))} | {num(r.get('p50_ms'))} | {num(r.get('p95_ms'))} "
                     f"| {num(r.get('p99_ms'))} | {num(excl)} | {num(r.get('cpu_ms_per_request'), 3)} "
                     f"| {ratio_cell(vs_raw)} | {ratio_cell(vs_tr)} |")

    raw, tr = report["raw_hop"], report["translation"]
    line(f"raw broker hop, {raw['message_bytes']} B (throughput; latency at {raw['latency_rate_per_s']:g}/s)", raw)
    line(f"translation alone, {tr['kb']} KB CDA (no broker)", tr)
    for s in report["stages"]["stages"]:
        line(f"stage alone: {s['stage']}" + ("" if s["status"] == "ok" else f" ({s['status']})"), s)
    flow = report["flow"]
    sat = flow["saturation"]
    line(f"flow, saturation ({sat['concurrency']} clients, closed loop)", sat, sat.get("p99_ms_excl_country_a"),
         sat.get("vs_raw_hop"), sat.get("vs_translation"))
    for r in flow["rates"]:
        mark = "" if r["sustained"] else " — not sustained"
        line(f"flow at {r['offered_per_s']:g}/s (open loop){mark}", r, r.get("p99_ms_excl_country_a"),
             r.get("vs_raw_hop"), r.get("vs_translation"))
    if flow.get("polling_5ms"):
        p = flow["polling_5ms"]
        line(f"flow at {p['offered_per_s']:g}/s, client polling every 5 ms (before the long poll)", p,
             p.get("p99_ms_excl_country_a"))
    return lines


def targets(report: dict) -> list[str]:
    a, b = report["targets"]["a"], report["targets"]["b"]
    if "slowest_stage" not in a:
        return [f"target (a): NOT MET ({a.get('why')})", f"target (b): NOT MET ({b.get('why')})"]
    verdict = {True: "MET", False: "NOT MET"}
    return [
        f"- target (a) flow ≥ 60% of its slowest stage alone: **{verdict[a['met']]}** — slowest stage "
        f"{a['slowest_stage']} {num(a['slowest_stage_per_s'])}/s alone, 60% = {num(a['required_per_s'])}/s; "
        f"flow sustained {num(a['flow_max_sustained_per_s'])}/s ({a['share'] * 100:.0f}%), saturation "
        f"{num(a['flow_saturation_per_s'])}/s." + cpu_budget(a.get("cpu_budget"), a["slowest_stage"]),
        f"- target (b) p99 < {b['limit_ms']:g} ms at half the slowest stage's rate ({num(b['rate_per_s'])}/s), "
        f"country A excluded: **{verdict[b['met']]}** — "
        + (f"p99 {num(b['p99_ms_excl_country_a'])} ms excluded, {num(b['p99_ms'])} ms included"
           + ("" if b["sustained"] else ", rate not sustained") if b["measured"] else "that rate was not run") + ".",
    ]


def cpu_budget(budget: dict | None, stage: str) -> str:
    if not budget:
        return ""
    return (f" CPU budget at {num(budget['rate_per_s'])}/s: the flow spends {budget['flow_cpu_ms_per_request']:.2f} ms "
            f"per request (every process, the broker and the load client), {stage} alone "
            f"{budget['stage_process_cpu_ms_per_request']:.2f} ms in its process: with all {budget['cores']} cores busy "
            f"the flow could reach at most {budget['max_share'] * 100:.0f}% of the stage alone.")


def cpu_breakdown(report: dict) -> list[str]:
    rows = [report["flow"]["saturation"], *report["flow"]["rates"]]
    names = sorted({n for r in rows for n in r["cpu_ms_per_request_by_process"]})
    lines = ["| CPU ms per request | " + " | ".join(names) + " | load client |",
             "|" + "---|" * (len(names) + 2)]
    for r in rows:
        cells = [num(r["cpu_ms_per_request_by_process"].get(n), 3) for n in names]
        lines.append(f"| {r['label']} | " + " | ".join(cells) + f" | {num(r['client_cpu_ms_per_request'], 3)} |")
    return lines


def machine(report: dict) -> str:
    env = report["environment"]
    return (f"{env['nproc']} cores ({env['cpus_usable']} usable), Python {env['python']}, {env['platform']}; "
            f"load average at start {', '.join(map(str, env['load_average_at_start']))}; {env['started_at']}")


def markdown(report: dict, command: str) -> str:
    """The Markdown block of docs/performance.md: the table, the targets, the machine and the command."""
    return "\n".join([*table(report), "", *targets(report), "",
                      f"Machine: {machine(report)}. Command: `{command}` ({report['elapsed_s']:g} s)."])


def text(report: dict, command: str) -> str:
    flow, stages = report["flow"], report["stages"]
    sizes = ", ".join(f"{k} {v}" for k, v in stages["event_bytes"].items())
    return "\n".join([
        "Passerelle bench: the Patient Summary flow against the raw broker and translation alone",
        "", markdown(report, command), "",
        "Where the flow's CPU goes (ms per answered request, every process of `passerelle up` and the broker):",
        "", *cpu_breakdown(report), "",
        f"The system idle (no request) uses {flow['idle_cpu_cores']:.2f} cores: every consumer polls the broker "
        "(fetch_max_wait_ms), so at low rates much of the CPU per request is that idle polling.",
        f"Encoded flow events (median bytes): {sizes}; raw hop messages: the mean, {report['raw_hop']['message_bytes']} B.",
        "req/s: (answers − 1) / (first answer → last answer), as the stages alone on their outputs. Latency: from the request's scheduled send to the answer "
        "(POST with Prefer: wait=5, then a long poll GET ?wait= if it ran out). 'excl. country A': each request's query → answer time at country A (event "
        "timestamps) subtracted. CPU: user + system time of every process of the system and the broker "
        "(stage rows: the stage and the broker; raw hop: broker, producer and consumer), per request.",
        f"Sustained: no request unanswered, ≥ 95% of the offered rate achieved, p99 ≤ 1 s. " + broker_memory(report),
    ])


def broker_memory(report: dict) -> str:
    flow, stages = report["flow"], report["stages"]
    if report.get("broker", "embedded") != "embedded":
        return (f"Broker: the external Kafka at {report['broker']} (its CPU and memory are not measured: the CPU "
                f"figures are Passerelle's processes and the load client only; {flow['requests_sent']} requests).")
    return (f"Broker memory at the end: stages {stages['broker_rss_mib_at_end']} MiB, raw hop "
            f"{report['raw_hop']['broker_rss_mib_at_end']} MiB, flow {flow['broker_rss_mib_at_end']} MiB "
            f"({flow['requests_sent']} requests; bound {report['bounds']['max_flow_requests']}).")

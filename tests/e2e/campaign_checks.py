"""The failure campaign's verdicts, on what was read after it (no I/O here): each check adds one
line to the report and names every problem it finds."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from tests.e2e.campaign import Request

#: Audit actions of one Patient Summary request's own steps (alerts aside).
FLOW_ACTIONS = {"PS_REQUESTED", "CONSENT_DECIDED", "PS_QUERY_ROUTED", "PS_RETRIEVED", "PS_OUTCOME"}
SHOWN = 10  # problems named per kind; the count says the rest


@dataclass
class Findings:
    report: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def problem(self, found: list[str]) -> None:
        self.problems += found[:SHOWN] + ([f"... and {len(found) - SHOWN} more"] if len(found) > SHOWN else [])


def answers_over_the_api(requests: list[Request], retries: Counter, unexpected: list[str], found: Findings) -> None:
    """Every accepted request ended, as expected (a dispensation: acknowledged or rejected)."""
    accepted = [r for r in requests if r.request_id is not None]
    found.problem([f"{r.kind} {r.request_id}: {r.status} (expected {r.expected or 'an end'})" for r in accepted
                   if r.status != r.expected and not (r.expected is None and r.status in ("acknowledged", "rejected"))])
    found.problem(unexpected)
    found.report.append(
        f"requests: {len(accepted)} accepted ({dict(Counter(r.kind for r in accepted))}) of {len(requests)} started; "
        f"sent again: {dict(retries)}; statuses: {dict(Counter(r.status for r in accepted))}; "
        f"404 while a restarted gateway caught up: {sum(r.not_found for r in accepted)}")


def one_outcome_per_request(kind: str, accepted: set[str], requested: list[dict], outcomes: list[dict],
                            found: Findings) -> None:
    """Every request on the request topic has outcome events, all copies of one event (one id)."""
    asked = {e["envelope"]["correlation_id"] for e in requested}
    ids = defaultdict(list)
    for outcome in outcomes:
        ids[outcome["envelope"]["correlation_id"]].append(outcome["envelope"]["event_id"])
    several = {rid: set(i) for rid, i in ids.items() if len(set(i)) > 1}
    copies = sum(len(i) - len(set(i)) for i in ids.values())
    found.problem([f"{kind} {rid}: {len(i)} different outcome events" for rid, i in several.items()])
    found.problem([f"{kind} {rid}: never answered" for rid in sorted(asked - set(ids))])
    found.problem([f"{kind} {rid}: accepted, not on the request topic" for rid in sorted(accepted - asked)])
    found.report.append(f"{kind} outcomes: {len(asked)} requests on the topic ({len(asked - accepted)} whose acceptance "
                        f"the client never saw), {len(ids)} answered, {copies} redelivered copies collapsed (same event "
                        f"id), {len(several)} with two different outcome events")


def dispensed_as_acknowledged(dispensations: list[Request], states: list[dict], commands: list[dict],
                              prescription: str, item: str, prescribed: int, found: Findings) -> None:
    """One answer per dispensation; the state's quantity dispensed = what country A acknowledged."""
    acknowledged = sum(line["quantity"] for r in dispensations if r.status == "acknowledged" for line in r.answer["lines"])
    mine = [s for s in states if s["prescription"]["prescription_id"] == prescription]
    final = mine[-1] if mine else {"dispensed": {}, "dispensations": []}
    in_state = Counter(d["dispensation_id"] for d in final["dispensations"])
    answers = defaultdict(set)
    for command in commands:
        if "accepted" in command:  # a DispensationAnswered: country A's, or the prescription service's refusal
            answers[command["dispensation_id"]].add(command["envelope"]["event_id"])
    found.problem([f"dispensation {d} {n} times in the prescription state" for d, n in in_state.items() if n > 1])
    found.problem([f"dispensation {r.request_id}: {len(answers[r.request_id])} answers" for r in dispensations
                   if len(answers[r.request_id]) != 1])
    dispensed = final["dispensed"].get(item, 0)
    if not acknowledged == dispensed <= prescribed:
        found.problems.append(f"dispensed {dispensed}, acknowledged {acknowledged}, prescribed {prescribed}")
    rejected = Counter(r.answer["error"]["code"] for r in dispensations if r.status == "rejected")
    found.report.append(f"dispensations: {len(dispensations)} accepted, {dict(Counter(r.status for r in dispensations))}; "
                        f"{acknowledged} of {prescribed} packages acknowledged, {dispensed} dispensed in the state; "
                        f"rejections: {dict(rejected)}")


def audited_once(audited: list[dict], rows: list, requests: set[str], flow_event_ids: set[str], found: Findings) -> None:
    """The store holds every record of the audit topic once, each step of a request once, and every
    event of the flow is audited."""
    on_topic = Counter(a["source_event_id"] for a in audited)
    stored = Counter(r.source_event_id for r in rows)
    found.problem([f"stored {n} times: {sid}" for sid, n in stored.items() if n > 1])
    found.problem([f"on the audit topic, not in the store: {sid}" for sid in sorted(set(on_topic) - set(stored))])
    found.problem([f"in the store, not on the audit topic: {sid}" for sid in sorted(set(stored) - set(on_topic))])
    steps = Counter((json.loads(r.body)["envelope"]["correlation_id"], r.columns["action"]) for r in rows)
    found.problem([f"request {rid}: {action} audited {n} times" for (rid, action), n in steps.items()
                   if rid in requests and action in FLOW_ACTIONS and n > 1])
    unaudited = flow_event_ids - set(stored)
    found.problem([f"event {e} of the flow never audited" for e in sorted(unaudited)])
    found.report.append(f"audit: {len(audited)} records on the topic, {len(on_topic)} distinct ({len(audited) - len(on_topic)} "
                        f"redelivered copies), {len(rows)} rows in the store; {len(flow_event_ids)} flow events, "
                        f"{len(unaudited)} not audited")


def one_restart_per_kill(log_lines: list[str], killed: list[str], found: Findings) -> None:
    """The supervisor restarted each killed worker once, and nothing else died."""
    restarts = [json.loads(line) for line in log_lines if "service exited; restarting" in line]
    found.report.append(f"supervisor restarts: {dict(Counter(r['worker'] for r in restarts))} "
                        f"(exit codes {sorted({r['code'] for r in restarts})})")
    if sorted(r["worker"] for r in restarts) != sorted(killed):
        found.problems.append(f"restarts other than the kills: {[(r['worker'], r['code']) for r in restarts]}")

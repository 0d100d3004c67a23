"""Cost of the prescription service's rules per command, in this process (no broker).

What runs: ``services.prescription.handlers.handle`` on a dispense request (check, queue, eHDSI
eDispensation CDA built with lxml, state copied for the state topic), then on country A's
acknowledgement (``services.foreign_ncp.prescriptions.answer_dispensation`` is not timed), for
``--prescriptions`` prescriptions of two items each, one package per dispensation, until each
prescription is fully dispensed; then the same with a state that already holds N dispensations
(the state record grows with each dispensation of a prescription: the cost of copying it).

    .venv/bin/python -m benchmarks.prescription [--prescriptions 2000] [--history 100]
"""

from __future__ import annotations

import argparse
import time

from passerelle.envelope import new_envelope
from passerelle.eprescription import read_eprescription
from passerelle.processor import Incoming
from passerelle.topics import Topics
from passerelle import PROJECT_ROOT
from services.foreign_ncp.prescriptions import Ledger, answer_dispensation
from services.prescription.handlers import handle

TOPICS = Topics("bench")
DOC = PROJECT_ROOT / "data" / "ncp" / "FI" / "140772-946S" / "ep" / "FI-EP-1001.xml"
HP = {"rpps": "10002000007", "profession": "21", "organisation": "750000001", "auth_method": "CPS",
      "assertion_issued_at": 0}
PATIENT = {"country": "FI", "patient_id": "140772-946S"}


def command(prescription_id: str, n: int, item_id: str) -> Incoming:
    return Incoming("c", "fr.passerelle.ep.DispensationRequested", {
        "envelope": new_envelope("bench"), "hp": HP, "patient": PATIENT, "dispensation_id": f"{prescription_id}-{n}",
        "prescription_id": prescription_id, "request_origin": None,
        "lines": [{"item_id": item_id, "quantity": 1, "substitution": None, "product_code": None, "product_name": None}]})


def run(prescriptions: int, quantity: int) -> tuple[int, float]:
    """Commands handled and seconds spent in ``handle`` (requests + acknowledgements)."""
    base = read_eprescription(DOC.read_bytes())
    states, ledger, handled, spent = {}, Ledger(), 0, 0.0
    for p in range(prescriptions):
        prescription = {**base, "prescription_id": f"RX-{p}",
                        "items": [{**i, "quantity": quantity, "substitution": "N"} for i in base["items"]]}
        ledger.prescriptions[prescription["prescription_id"]] = prescription
        list(handle(Incoming("c", "fr.passerelle.ep.PrescriptionObserved", {
            "envelope": new_envelope("bench"), "hp": HP, "patient": PATIENT, "prescription": prescription}), TOPICS, states))
        for n in range(quantity * len(prescription["items"])):
            item_id = prescription["items"][n % len(prescription["items"])]["item_id"]
            started = time.perf_counter()
            emits = list(handle(command(prescription["prescription_id"], n, item_id), TOPICS, states))
            spent += time.perf_counter() - started
            [answer] = answer_dispensation(emits[0].record, ledger, TOPICS)
            started = time.perf_counter()
            list(handle(Incoming("c", answer.event_type, answer.record), TOPICS, states))
            spent += time.perf_counter() - started
            handled += 2
        assert states[prescription["prescription_id"]]["status"] == "DISPENSED"
    return handled, spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prescriptions", type=int, default=2000)
    parser.add_argument("--history", type=int, default=100)
    args = parser.parse_args()
    for label, prescriptions, quantity in (("2 dispensations per prescription", args.prescriptions, 1),
                                           (f"{2 * args.history} dispensations per prescription", 10, args.history)):
        handled, spent = run(prescriptions, quantity)
        print(f"{label:>40}: {handled} commands, {handled / spent:,.0f} commands/s, {spent / handled * 1e6:,.0f} µs per command")


if __name__ == "__main__":
    main()

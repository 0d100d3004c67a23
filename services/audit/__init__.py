"""The audit service: one audit record for every step of every request, on the audit topic.

Durable storage, hash chaining, replay and the patient-side access list come with issue 5; this
service already turns every event of the flow into a canonical record that a store can consume.
"""

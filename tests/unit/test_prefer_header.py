"""RFC 7240 ``Prefer: wait=N`` on POST /v1/patient-summaries: only ``wait`` is read, capped."""

import pytest

from services.gateway.prefer import preferred_wait


@pytest.mark.parametrize("header, seconds", [
    (None, 0.0), ("", 0.0), ("wait=5", 5.0), ("respond-async, wait=10", 10.0), ("WAIT = 2.5", 2.5),
    ('wait="3"', 3.0), ("wait=100", 30.0), ("wait=inf", 30.0), ("wait=-3", 0.0), ("wait=nan", 0.0),
    ("wait=abc", 0.0), ("wait=", 0.0), ("handling=strict", 0.0), ("waiting=5", 0.0),
])
def test_only_a_numeric_wait_counts_and_it_is_capped(header, seconds):
    assert preferred_wait(header, 30) == seconds

"""The country-A bench's pieces without a system: transcoding alone counts real documents, and the
report prints every rate's figures."""

from benchmarks import country_a


def test_transcoding_alone_measures_documents():
    figures = country_a.transcoding_alone(0.05)
    assert figures["documents"] >= 1 and figures["vsm_bytes"] > 10_000
    assert figures["us_per_document"] > 0 and figures["documents_per_s"] > 0


def test_the_report_names_each_rate():
    report = {"cores": 2, "transcoding_alone": {"documents": 3, "vsm_bytes": 1, "documents_per_s": 1.0, "us_per_document": 9.0},
              "flow": [{"rate": 10.0, "requests": 50, "completed": 49, "failed": 1, "achieved_per_s": 9.9,
                        "p50_ms": 20.0, "p99_ms": 80.0, "max_ms": 90.0}]}
    out = country_a.text(report, "passerelle bench --flow country-a")
    assert "49/50" in out and "80.0" in out and "passerelle bench --flow country-a" in out

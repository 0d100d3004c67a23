"""A simulator of foreign National Contact Points (country A), serving documents from a directory.

Layout of ``--ncp-data DIR``: ``DIR/<CC>/<patient id>/ps.xml`` (eHDSI pivot CDA) or ``ps.json``
(FHIR IPS Bundle), optionally ``patient.json``, and ``ep/*.xml`` (eHDSI ePrescriptions; a patient
may have prescriptions and no summary, or the reverse); ``DIR/<CC>/country.json`` with
``{"available": false}`` makes that country's NCP answer "service unavailable".
"""

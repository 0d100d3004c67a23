"""ePrescription / eDispensation (issue 6): the state of each foreign prescription (docs/prescription.md)."""

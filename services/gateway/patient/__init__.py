"""The patient space (/patient/): a French patient signs in, sees and downloads every access to their
record, opposes cross-border access (docs/patient-space.md)."""

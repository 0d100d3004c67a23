"""France as country A: a French patient's Patient Summary (the DMP's VSM) for a doctor abroad."""

"""KerasTuner search over DSD-MAE's noise level, mask ratio and loss weight
(`python tuning/search.py`; see the README)."""

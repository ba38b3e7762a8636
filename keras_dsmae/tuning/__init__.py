"""KerasTuner search over DSD-MAE's noise level, mask ratio and loss weight
(`keras-dsmae-tune`, `python tuning/search.py`; see tuning/README.md)."""

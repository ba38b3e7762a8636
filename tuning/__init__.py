"""Scripts around the KerasTuner search, which lives in `keras_dsmae.tuning`
(`python tuning/search.py`, `python tuning/distributed_loopback.py`)."""

"""Helpers every other folder may use: argument validation, settings
(fields with help, check and flag), `Knob`, atomic writes, stop signals,
token math, callback order, distribution and backend kernels."""

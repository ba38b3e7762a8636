"""Command lines: the example scripts' absl flags and entry points
(`pretraining_main`, `linear_probe_main`, `finetune_main`), and the
`upgrade` converter for files written before version 0.2."""

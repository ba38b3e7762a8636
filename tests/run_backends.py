"""Run the test suite once per Keras backend, each in its own process.

Usage:
    python tests/run_backends.py                 # tensorflow, jax, torch
    python tests/run_backends.py --backends torch -- -k masking -x

Everything after `--` goes to pytest. Exits non-zero when any backend fails,
after running them all, and prints a one-line summary per backend.
"""

import argparse
import os
import subprocess
import sys
import time

ALL_BACKENDS = ("tensorflow", "jax", "torch")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv):
    pytest_args = []
    if "--" in argv:
        split = argv.index("--")
        argv, pytest_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backends",
        default=",".join(ALL_BACKENDS),
        help="comma-separated subset of: " + ", ".join(ALL_BACKENDS),
    )
    parser.add_argument(
        "--workers",
        default="auto",
        help="pytest-xdist processes per backend: a number, 0 (no xdist) or "
        "auto (min(2, CPU cores)); tracing is single-threaded, so two "
        "processes keep two cores busy",
    )
    args = parser.parse_args(argv)
    workers = min(2, os.cpu_count() or 1) if args.workers == "auto" else int(args.workers)
    if workers > 1:
        pytest_args = ["-n", str(workers), *pytest_args]
    if not any(arg.startswith("--durations") for arg in pytest_args):
        pytest_args = ["--durations=15", *pytest_args]  # where the CI budget goes, per backend
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(ALL_BACKENDS))
    if unknown:
        parser.error(f"--backends: unknown {unknown}; allowed: {list(ALL_BACKENDS)}")
    return backends, pytest_args


def main(argv):
    backends, pytest_args = parse_args(argv)
    results = []
    for backend in backends:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
        print(f"\n===== KERAS_BACKEND={backend} =====", flush=True)
        start = time.time()
        code = subprocess.call(
            [sys.executable, "-m", "pytest", "-q", *pytest_args], cwd=REPO_ROOT, env=env
        )
        results.append((backend, code, time.time() - start))
    print("\n===== summary =====")
    for backend, code, seconds in results:
        print(f"{backend:<11} {'passed' if code == 0 else f'FAILED (exit {code})':<18} {seconds:6.0f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

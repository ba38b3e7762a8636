"""Distributed KerasTuner search on one machine: a chief oracle and N
workers on loopback (127.0.0.1), each a `tuning/search.py` process.

    python tuning/distributed_loopback.py --workers=2 --max_trials=4 -- --use_synthetic_data --epochs=1 --steps_per_epoch=2

Arguments after `--` go to every `search.py` process. On a cluster, set the
same environment variables on each machine instead (tuning/README.md).
"""

import argparse
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_loopback(directory, workers=2, max_trials=4, search_args=(), timeout=900):
    """Start a chief and `workers` workers; wait; return `{tuner_id: (exit code, output)}`."""
    port = free_port()
    command = [sys.executable, os.path.join(HERE, "search.py"), f"--directory={directory}",
               f"--max_trials={max_trials}", *search_args]
    processes = {}
    for tuner_id in ["chief"] + [f"tuner{i}" for i in range(workers)]:
        env = dict(os.environ, KERASTUNER_TUNER_ID=tuner_id, KERASTUNER_ORACLE_IP="127.0.0.1",
                   KERASTUNER_ORACLE_PORT=str(port), TF_CPP_MIN_LOG_LEVEL="2")
        processes[tuner_id] = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                               stderr=subprocess.STDOUT, text=True)
        if tuner_id == "chief":
            time.sleep(2)  # let the oracle server start listening
    results = {}
    deadline = time.time() + timeout
    for tuner_id, process in processes.items():
        try:
            output, _ = process.communicate(timeout=max(deadline - time.time(), 1))
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
            output += "\n[killed: timeout]"
        results[tuner_id] = (process.returncode, output)
    return results


def main(argv):
    search_args = []
    if "--" in argv:
        split = argv.index("--")
        argv, search_args = argv[:split], argv[split + 1 :]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max_trials", type=int, default=4)
    parser.add_argument("--directory", default="runs/tuning_distributed")
    args = parser.parse_args(argv)
    results = run_loopback(args.directory, args.workers, args.max_trials, search_args)
    for tuner_id, (code, output) in results.items():
        print(f"===== {tuner_id} (exit {code}) =====")
        print("\n".join(output.splitlines()[-25:]))
    return 0 if all(code == 0 for code, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

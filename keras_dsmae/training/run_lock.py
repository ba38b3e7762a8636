"""One writer per run folder: a lock file in `--output_dir` names the
process that writes the run (host, PID, start time). A second job started
into the same folder (a requeue while the first still runs, a command run
twice) is refused before any work; a lock whose process is gone (same host,
dead PID: the job was killed) is taken over with a warning."""

import contextlib
import datetime
import json
import os
import socket
import warnings

LOCK_FILE = ".keras_dsmae.lock"


class RunLocked(ValueError):
    """Another live process writes the run in this folder."""


def _alive(pid):
    """Whether a process with this PID runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _read_holder(path):
    """The holder recorded in the lock file, or None when it is unreadable
    (a lock half-written by a killed process)."""
    try:
        with open(path) as file:
            holder = json.load(file)
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None


def _try_create(path, record):
    """Create the lock file holding `record`; False when it exists."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as file:
        json.dump(record, file)
        file.flush()
        os.fsync(file.fileno())
    return True


@contextlib.contextmanager
def run_lock(output_dir, enabled=True):
    """Hold the run folder's lock while the body runs; released on any exit.

    Args:
        output_dir: the run folder (it exists).
        enabled: False for the processes of a multi-process job that do not
            write the folder (only the chief holds the lock).

    Raises:
        RunLocked: a live process holds the lock (naming it and the file).
    """
    if not enabled:
        yield
        return
    path = os.path.join(output_dir, LOCK_FILE)
    record = {"host": socket.gethostname(), "pid": os.getpid(),
              "started": datetime.datetime.now().isoformat(timespec="seconds")}
    if not _try_create(path, record):
        holder = _read_holder(path)
        same_host = holder is not None and holder.get("host") == record["host"]
        if holder is not None and (not same_host or _alive(holder["pid"])):
            where = "this host" if same_host else f"host {holder.get('host')!r}"
            raise RunLocked(
                f"`output_dir` {output_dir!r} is being written by process {holder['pid']} on {where} "
                f"(since {holder.get('started')}; lock file {path}). Two jobs in one folder would mix "
                f"their checkpoints and history: wait for that job to end or stop it, or pass another "
                f"--output_dir. If that process is gone, delete {path}."
            )
        gone = "an unreadable lock" if holder is None else (
            f"the lock of process {holder['pid']} (started {holder.get('started')}), which is gone")
        warnings.warn(f"{output_dir!r}: taking over {gone}; the run resumes from its last checkpoint.",
                      stacklevel=3)
        os.remove(path)
        if not _try_create(path, record):  # another job took it over first
            raise RunLocked(f"`output_dir` {output_dir!r}: another job took over the stale lock "
                            f"{path} at the same moment; pass another --output_dir.")
    try:
        yield
    finally:
        if (_read_holder(path) or {}).get("pid") == record["pid"]:
            os.remove(path)

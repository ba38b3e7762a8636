"""Writes that a kill at any moment cannot leave half done.

Every writer of the package goes through here: it fills a partial sibling
(`<folder>/.partial-<name>`, on the same file system), flushes it to disk,
and renames it onto the final name, so a reader sees the old file or
folder or the new one, never a torn one. A partial left by a killed
process is removed by `remove_partials` (or replaced by the next write).
"""

import contextlib
import errno
import gc
import json
import os
import shutil
import sys
import traceback

PARTIAL_PREFIX = ".partial-"


def partial_path(path):
    """The partial sibling of `path`: same folder, same suffix (Keras'
    `save` wants `.keras` / `.weights.h5` at the end of a name)."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, PARTIAL_PREFIX + name)


def is_partial(name):
    """Whether the file or folder name `name` is an unfinished write."""
    return name.startswith(PARTIAL_PREFIX)


def remove_partials(folder):
    """Delete the unfinished writes directly inside `folder` (left by a
    process that was killed while writing)."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if is_partial(name):
            _remove(os.path.join(folder, name))


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _sync(path):
    """Flush `path` (a file, or every file of a folder) to the disk."""
    files = [path] if os.path.isfile(path) else [
        os.path.join(root, name) for root, _, names in os.walk(path) for name in names]
    for name in files:
        with open(name, "rb") as file:
            os.fsync(file.fileno())


class _NothingWritten(FileNotFoundError):
    """The block of `atomic_path` left nothing at the partial path."""


class WriteFailed(RuntimeError):
    """A file or folder could not be written (a full disk, no permission,
    an I/O error); what was at its path before is unchanged.

    Attributes:
        path: what was being written.
        error: the `OSError` it failed with.
        errno: the operating system's error number (e.g. `errno.ENOSPC`).
    """

    def __init__(self, path, error, advice=""):
        self.path, self.error, self.errno = path, error, error.errno
        code = errno.errorcode.get(error.errno, "unknown error")
        reason = f"{error.strerror or error} ({code})"
        if error.errno == errno.ENOSPC:
            reason += f": the disk is full, {_free_mib(path):.1f} MiB free on the file system of {os.path.dirname(path)}"
        super().__init__(f"Could not write {path}: {reason}. What was there before is unchanged. {advice}".rstrip())


def _free_mib(path):
    try:
        stats = os.statvfs(os.path.dirname(path))
    except OSError:
        return float("nan")
    return stats.f_bavail * stats.f_frsize / 1024**2


def _release_handles(error):
    """Free now, quietly, the file handles a failed writer left open: h5py's,
    released later (at exit) after a write error, crashed the process."""
    traceback.clear_frames(error.__traceback__)
    hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: None
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook


@contextlib.contextmanager
def atomic_path(path):
    """Yield a partial path to write `path`'s new content to (a file, or a
    folder the caller creates and fills); when the block ends normally,
    that content replaces `path` whole. When the block raises, the partial
    is removed and `path` is left as it was; an `OSError` (a full disk, no
    permission) becomes a `WriteFailed` that names `path` and the error.

    `path` may be a file or a folder; an existing folder at `path` is
    replaced (deleted, then the new one renamed in).
    """
    final = os.path.abspath(path)
    os.makedirs(os.path.dirname(final), exist_ok=True)
    partial = partial_path(final)
    _remove(partial)
    try:
        yield partial
        if not os.path.lexists(partial):
            raise _NothingWritten(f"nothing was written to {partial} (for {final})")
        _sync(partial)
        if os.path.isdir(final) and not os.path.islink(final):
            shutil.rmtree(final)
        os.replace(partial, final)
    except _NothingWritten:  # the caller's mistake, not the disk's
        raise
    except OSError as error:
        _release_handles(error)
        _remove(partial)
        raise WriteFailed(final, error) from None
    except BaseException:
        _remove(partial)
        raise


def write_text(path, text):
    """Replace the file `path` with `text` atomically."""
    with atomic_path(path) as partial:
        with open(partial, "w", newline="") as file:
            file.write(text)


def write_json(path, value, **dump_options):
    """Replace the file `path` with `value` as JSON atomically
    (`dump_options` go to `json.dumps`, e.g. `indent=2`)."""
    write_text(path, json.dumps(value, **dump_options))

"""Convert files written by keras_dsmae 0.1 so that this version loads them.

    python -m keras_dsmae.cli.upgrade PATH [PATH ...]

PATH is a `.keras` file, a `.weights.h5` file, or a run folder (every
checkpoint under `checkpoints/` is converted). Each converted file is
rewritten in place and the original kept next to it as `<file>.v0_1`;
files that are already current are left alone.
"""

import glob
import os
import sys

from keras_dsmae.models.file_upgrade import upgrade_file


def files_to_upgrade(path):
    """The model files at `path` (a file, or a run folder's checkpoints and .keras files)."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise ValueError(f"`PATH` {path!r} does not exist; pass a .keras file, a .weights.h5 file or a run folder.")
    found = glob.glob(os.path.join(path, "checkpoints", "epoch_*", "*.weights.h5"))
    found += glob.glob(os.path.join(path, "*.keras"))
    return sorted(found)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    try:
        for path in argv:
            for file in files_to_upgrade(path):
                done = upgrade_file(file)
                print(f"{'converted' if done else 'already current'}: {file}", flush=True)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

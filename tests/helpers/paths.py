"""Where the repository and the committed test files are."""

import os

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures")  # files of earlier releases, reference figures
HELPERS = os.path.join(REPO, "tests", "helpers")  # scripts tests run in a fresh process

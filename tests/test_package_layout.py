"""Package boundaries: every import goes down the layering drawn in the
README (nothing imports upward, no cycle), no import hides inside a
function, and each subpackage imports on its own in a fresh interpreter."""

import ast
import json
import os
import subprocess
import sys

import pytest

from tests.helpers.paths import REPO

PACKAGE = os.path.join(REPO, "keras_dsmae")
# Lowest first; a part may import only from its own or a lower rank.
LAYERS = (
    ("version", "utils"),
    ("layers",),
    ("losses", "optimizers"),
    ("presets", "models"),
    ("data",),
    ("evaluation",),
    ("plotting",),
    ("callbacks",),
    ("training",),
    ("cli", "tuning"),
)
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
SUBPACKAGES = sorted(
    name for name in os.listdir(PACKAGE) if os.path.isfile(os.path.join(PACKAGE, name, "__init__.py"))
)


def _modules():
    """`{dotted module name: path}` of every module of the package."""
    found = {}
    for folder, _, files in os.walk(PACKAGE):
        for file in files:
            if file.endswith(".py"):
                relative = os.path.relpath(os.path.join(folder, file), REPO)[: -len(".py")]
                name = relative.replace(os.sep, ".").removesuffix(".__init__")
                found[name] = os.path.join(folder, file)
    return found


MODULES = _modules()


def _imports(path):
    """`(imported module, line, inside a function)` for each keras_dsmae import."""
    tree = ast.parse(open(path).read())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom) and (child.module or "").startswith("keras_dsmae"):
                for alias in child.names:
                    candidate = f"{child.module}.{alias.name}"
                    target = candidate if candidate in MODULES else child.module
                    found.append((target, child.lineno, in_function))
            elif isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.startswith("keras_dsmae"):
                        found.append((alias.name, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return found


def _part(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_module_belongs_to_a_layer():
    unplaced = sorted({_part(m) for m in MODULES} - set(RANK) - {None})
    assert not unplaced, f"add these to LAYERS (and the README's Layout): {unplaced}"


def test_imports_only_go_down_the_layers():
    upward = []
    for module, path in MODULES.items():
        source = _part(module)
        if source is None:  # keras_dsmae/__init__.py gathers the public API
            continue
        for target, line, _ in _imports(path):
            if _part(target) is not None and RANK[_part(target)] > RANK[source]:
                upward.append(f"{module}:{line} imports {target}")
    assert not upward, "\n".join(upward)


def test_no_import_of_the_package_is_deferred_into_a_function():
    deferred = [
        f"{module}:{line} imports {target}"
        for module, path in MODULES.items()
        for target, line, in_function in _imports(path)
        if in_function
    ]
    assert not deferred, "\n".join(deferred)


def test_the_module_import_graph_has_no_cycle():
    graph = {
        module: {t for t, _, _ in _imports(path) if t in MODULES and not module.startswith(t + ".")}
        for module, path in MODULES.items()
    }
    state, stack = {}, []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)


# Run in one fresh interpreter: Keras and the backend are imported once, and
# before each subpackage every `keras_dsmae` module is dropped from
# `sys.modules`, so each one is imported on its own, as a user's first import.
_IMPORT_EACH_ALONE = """
import importlib, json, sys
from tests.helpers.paths import REPO
results = {}
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "keras_dsmae" or m.startswith("keras_dsmae.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as error:
        results[name] = f"{type(error).__name__}: {error}"
        continue
    results[name] = "pretrain" if "keras_dsmae.training.pretrain" in sys.modules else "ok"
print(json.dumps(results))
"""


def test_each_subpackage_imports_on_its_own_in_a_fresh_interpreter():
    names = [f"keras_dsmae.{name}" for name in SUBPACKAGES]
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH_ALONE, *names], cwd=REPO, capture_output=True, text=True,
        timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    may_load_the_job = {"keras_dsmae.training", "keras_dsmae.cli"}
    failures = [f"{name}: {result}" for name, result in results.items()
                if result not in ("ok", "pretrain")]
    failures += [f"importing {name} loads the pretraining job" for name, result in results.items()
                 if result == "pretrain" and name not in may_load_the_job]
    assert not failures, "\n".join(failures)
    assert {"cli", "evaluation", "models", "optimizers", "utils"} <= set(SUBPACKAGES)


def test_the_tests_mirror_the_package_and_share_code_only_through_helpers():
    tests_dir = os.path.join(REPO, "tests")
    shared = {"helpers", "fixtures", "__pycache__"}
    folders = {name for name in os.listdir(tests_dir) if os.path.isdir(os.path.join(tests_dir, name))}
    assert folders - shared <= set(SUBPACKAGES) | {"benchmarks"}, folders - shared - set(SUBPACKAGES)
    wrong = []
    for folder, _, files in os.walk(tests_dir):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            with open(path) as file:
                tree = ast.parse(file.read())
            for node in ast.walk(tree):
                targets = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                           else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                for target in targets:
                    if target == "conftest" or (target.startswith("tests.") and not target.startswith("tests.helpers")):
                        wrong.append(f"{os.path.relpath(path, REPO)} imports {target}")
    assert not wrong, "\n".join(wrong)

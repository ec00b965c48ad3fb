"""Mutation testing of cradlepose.domain: a small AST mutator, no dependency beyond pytest.

For each module it rewrites the source one change at a time (a *mutant*), runs the unit tests that
import that module against the mutant, and counts the mutant *killed* when a test fails, *survived*
when they all pass, *timeout* when they run past the limit (counted as killed: the change was
noticed). Mutants listed in the equivalents file (tools/mutation_equivalents.txt, one id and a
reason a line) behave exactly like the original and leave the denominator.

The changes:
- compare: `<` ↔ `<=`, `>` ↔ `>=`, the opposite comparison, `==` ↔ `!=`, `in` ↔ `not in`, `is` ↔ `is not`;
- boolop: `and` ↔ `or`; not: `not x` → `x`;
- arith: `+` ↔ `-`, `*` ↔ `/`, `//` → `/`, `%` → `*`, `**` → `*` (also in `+=` and the like);
- const: an int n → n+1 and n-1, a float x → x+1 and x-1 (x·2 and x/2 when |x| < 2), True ↔ False;
- return: `return x` → `return None` (and `return None` → `return 0`);
- table: in every literal set / frozenset / tuple / list / dict of a module-level statement
  (transition tables, status sets, constants) each entry deleted; in a set of enum members every
  other member of that enum added, so an illegal move added to a transition table is a mutant.

Docstrings and other strings are not mutated (messages, not rules).

The source is never edited in place: each worker copies the package to a temporary directory,
writes one mutant there, and runs pytest in a forked child whose sys.path starts with that copy
(third-party imports are done once in the parent, so a mutant costs the tests, not the start-up).

    python tools/mutate.py                        # the rule modules, all mutants
    python tools/mutate.py --modules quality access --sample 40 --floor 90
    python tools/mutate.py --all                  # every module of domain/ (slow)
"""

from __future__ import annotations

import argparse
import ast
import compileall
import copy
import difflib
import enum
import importlib
import multiprocessing
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import hypothesis
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_ROOT = ROOT / "layers" / "core" / "python"
DOMAIN = PACKAGE_ROOT / "cradlepose" / "domain"
UNIT_TESTS = ROOT / "tests" / "unit"
EQUIVALENTS = ROOT / "tools" / "mutation_equivalents.txt"
# The domain's rules (issue 22): transitions and lifecycles, keypoint arithmetic, accuracy,
# assignment policy, image quality, promotion, access and audit.
RULE_MODULES = (
    "transitions",
    "lifecycles",
    "keypoint_math",
    "accuracy",
    "assignment_policy",
    "quality",
    "promotion",
    "access",
    "audit",
)
# Imported once in the parent so each forked test run starts warm.
PRELOAD = ("pytest", "_pytest.python", "_pytest.main", "hypothesis", "pydantic")

COMPARE_SWAPS: dict[type[ast.cmpop], tuple[type[ast.cmpop], ...]] = {
    ast.Lt: (ast.LtE, ast.GtE),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
}
ARITH_SWAPS: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Mod: ast.Mult,
    ast.Pow: ast.Mult,
}


@dataclass(frozen=True)
class Mutant:
    module: str
    line: int
    col: int
    operator: str
    detail: str
    source: str = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        return f"{self.module}:{self.line}:{self.col}:{self.operator}:{self.detail}"


# ---------------------------------------------------------------------------------------------
# Generating mutants


def _is_docstring(parents: dict[ast.AST, ast.AST], node: ast.AST) -> bool:
    parent = parents.get(node)
    return isinstance(parent, ast.Expr) and isinstance(node, ast.Constant) and isinstance(node.value, str)


def _inside(parents: dict[ast.AST, ast.AST], node: ast.AST, kinds: tuple[type[ast.AST], ...]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, kinds):
            return True
    return False


def _in_decorator(parents: dict[ast.AST, ast.AST], node: ast.AST) -> bool:
    """Whether the node is part of a decorator (`@dataclass(frozen=True)`: configuration, not a rule)."""
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return node in parent.decorator_list
        node = parent
    return False


def _module_level(parents: dict[ast.AST, ast.AST], node: ast.AST) -> bool:
    """Whether the node belongs to a statement of the module itself (a table or a constant)."""
    while node in parents:
        parent = parents[node]
        if isinstance(parent, ast.Module):
            return True
        if isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            return False
        node = parent
    return False


def _set_elements(node: ast.AST) -> list[ast.expr] | None:
    """The elements of `{a, b}`, `set({...})`, `frozenset({...})`, `frozenset((a, b))`; None otherwise."""
    if isinstance(node, ast.Set):
        return node.elts
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in {"set", "frozenset"}
        and not node.keywords
    ):
        if not node.args:
            return []
        if len(node.args) == 1 and isinstance(node.args[0], ast.Set | ast.Tuple | ast.List):
            return node.args[0].elts
    return None


def _enum_member(module: object, node: ast.AST) -> enum.Enum | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        owner = getattr(module, node.value.id, None)
        if isinstance(owner, type) and issubclass(owner, enum.Enum):
            member = getattr(owner, node.attr, None)
            if isinstance(member, enum.Enum):
                return member
    return None


def _member_node(template: ast.Attribute, name: str) -> ast.Attribute:
    assert isinstance(template.value, ast.Name)
    return ast.Attribute(value=ast.Name(id=template.value.id, ctx=ast.Load()), attr=name, ctx=ast.Load())


def _ensure_set_call(node: ast.AST, elements: list[ast.expr]) -> ast.expr:
    """A node equal to `node` with `elements` (keeps `set()` / `frozenset()` valid when they grow)."""
    if isinstance(node, ast.Set):
        if not elements:
            return ast.Call(func=ast.Name(id="set", ctx=ast.Load()), args=[], keywords=[])
        return ast.Set(elts=elements)
    assert isinstance(node, ast.Call)
    assert isinstance(node.func, ast.Name)
    args: list[ast.expr] = [ast.Set(elts=elements)] if elements else []
    return ast.Call(func=ast.Name(id=node.func.id, ctx=ast.Load()), args=args, keywords=[])


def _edits(tree: ast.Module, module: object) -> Iterator[tuple[ast.AST, str, str, object]]:
    """(node, operator, detail, replacement) for every mutation point of the tree.

    `replacement` is what `_apply` puts in the node's place (a node, a new op, or a list for tables).
    """
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for index, op in enumerate(node.ops):
                for other in COMPARE_SWAPS.get(type(op), ()):
                    yield node, "compare", f"{index}:{type(op).__name__}->{other.__name__}", (index, other)
        elif isinstance(node, ast.BoolOp):
            other_op = ast.Or if isinstance(node.op, ast.And) else ast.And
            yield node, "boolop", f"{type(node.op).__name__}->{other_op.__name__}", other_op
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, "not", "drop-not", node.operand
        elif isinstance(node, ast.BinOp | ast.AugAssign) and type(node.op) in ARITH_SWAPS:
            other_arith = ARITH_SWAPS[type(node.op)]
            yield node, "arith", f"{type(node.op).__name__}->{other_arith.__name__}", other_arith
        elif isinstance(node, ast.Constant) and not _is_docstring(parents, node):
            if _inside(parents, node, (ast.JoinedStr,)) or _in_decorator(parents, node):
                continue
            value = node.value
            if isinstance(value, bool):
                yield node, "const", f"{value}->{not value}", ast.Constant(not value)
            elif isinstance(value, int):
                for new in (value + 1, value - 1):
                    yield node, "const", f"{value}->{new}", ast.Constant(new)
            elif isinstance(value, float):
                news = (value + 1, value - 1) if abs(value) >= 2 else (value * 2 or 1.0, value / 2)
                for new_float in news:
                    yield node, "const", f"{value!r}->{new_float!r}", ast.Constant(new_float)
        elif isinstance(node, ast.Return) and node.value is not None:  # a bare `return` only ends early
            if isinstance(node.value, ast.Constant) and node.value.value is None:
                yield node, "return", "None->0", ast.Constant(0)
            else:
                yield node, "return", "->None", ast.Constant(None)
        if not _module_level(parents, node):
            continue
        # Tables: delete each entry; in a set of enum members, add each missing member.
        elements = _set_elements(node)
        if elements is not None:
            for index, element in enumerate(elements):
                yield (
                    node,
                    "table",
                    f"del[{index}]:{ast.unparse(element)}",
                    [e for i, e in enumerate(elements) if i != index],
                )
            members = [_enum_member(module, e) for e in elements]
            template = elements[0] if elements else None
            enum_type = type(members[0]) if members and members[0] is not None else None
            if not elements:
                # An empty target set of a transition table: the enum of the dict's keys.
                parent = parents.get(node)
                if isinstance(parent, ast.Dict):
                    key = parent.keys[parent.values.index(node)] if node in parent.values else None
                    key_member = _enum_member(module, key) if key is not None else None
                    if key_member is not None and isinstance(key, ast.Attribute):
                        enum_type, template = type(key_member), key
            if enum_type is not None and isinstance(template, ast.Attribute) and None not in members:
                present = {m.name for m in members if m is not None}
                for member in enum_type:
                    if member.name not in present:
                        grown = [*elements, _member_node(template, member.name)]
                        yield node, "table", f"add:{member.name}", grown
        elif isinstance(node, ast.Dict):
            for index, key in enumerate(node.keys):
                label = ast.unparse(key) if key is not None else "**"
                yield node, "table", f"del-key[{index}]:{label}", index
        elif isinstance(node, ast.Tuple | ast.List) and isinstance(getattr(node, "ctx", None), ast.Load):
            parent = parents.get(node)
            unpacked = isinstance(parent, ast.Assign) and any(
                isinstance(t, ast.Tuple) for t in parent.targets
            )
            if len(node.elts) > 1 and not unpacked and not isinstance(parent, ast.Call | ast.Subscript):
                for index, element in enumerate(node.elts):
                    yield (
                        node,
                        "table",
                        f"del[{index}]:{ast.unparse(element)}",
                        [e for i, e in enumerate(node.elts) if i != index],
                    )


def _apply(target: ast.AST, operator: str, replacement: object) -> ast.AST | None:
    """Mutate `target` (a copy) in place; return a node that replaces it in its parent, if any."""
    if operator == "compare":
        assert isinstance(target, ast.Compare)
        assert isinstance(replacement, tuple)
        index, op_type = replacement
        target.ops[index] = op_type()
    elif operator in {"boolop", "arith"}:
        assert isinstance(target, ast.BoolOp | ast.BinOp | ast.AugAssign)
        assert isinstance(replacement, type)
        target.op = replacement()
    elif operator in {"not", "const"}:
        assert isinstance(replacement, ast.AST)
        return replacement
    elif operator == "return":
        assert isinstance(target, ast.Return)
        assert isinstance(replacement, ast.expr)
        target.value = replacement
    elif operator == "table":
        if isinstance(target, ast.Dict):
            assert isinstance(replacement, int)
            del target.keys[replacement]
            del target.values[replacement]
        elif isinstance(target, ast.Tuple | ast.List):
            assert isinstance(replacement, list)
            target.elts = replacement
        else:
            assert isinstance(replacement, list)
            return _ensure_set_call(target, replacement)
    return None


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, name, new)
                return
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return
    raise LookupError("node not found")


def mutants_of(module_name: str) -> list[Mutant]:
    path = DOMAIN / f"{module_name}.py"
    source = path.read_text()
    tree = ast.parse(source)
    module = importlib.import_module(f"cradlepose.domain.{module_name}")
    original = ast.unparse(tree)
    position_of = {id(node): i for i, node in enumerate(ast.walk(tree))}
    result: list[Mutant] = []
    seen: set[str] = set()
    for node, operator, detail, replacement in _edits(tree, module):
        # A fresh parse is a faster copy than deepcopy, and walks in the same order.
        copied = ast.parse(source)
        target = next(n for i, n in enumerate(ast.walk(copied)) if i == position_of[id(node)])
        new_node = _apply(target, operator, copy.deepcopy(replacement))
        if new_node is not None:
            _replace(copied, target, new_node)
        ast.fix_missing_locations(copied)
        mutated = ast.unparse(copied)
        if mutated == original:
            continue
        line, col = getattr(node, "lineno", 0), getattr(node, "col_offset", 0)
        mutant = Mutant(module_name, line, col, operator, detail, mutated)
        if mutant.id in seen:
            continue
        seen.add(mutant.id)
        result.append(mutant)
    return result


# ---------------------------------------------------------------------------------------------
# Choosing tests


def tests_for(module_name: str) -> list[Path]:
    """Unit test files that import the module (by its dotted name or `from cradlepose.domain import m`)."""
    pattern = re.compile(
        rf"cradlepose\.domain\.{module_name}\b|from cradlepose\.domain import [^\n]*\b{module_name}\b"
    )
    return sorted(p for p in UNIT_TESTS.rglob("test_*.py") if pattern.search(p.read_text()))


# ---------------------------------------------------------------------------------------------
# Running


_WORK: Path | None = None


def _copy_package(parent: Path) -> Path:
    work = Path(tempfile.mkdtemp(prefix="worker-", dir=parent))
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(PACKAGE_ROOT / "cradlepose", work / "cradlepose", ignore=ignore)
    # Byte-code for the unmutated modules, once; a mutant's own .pyc is removed before each run.
    compileall.compile_dir(work / "cradlepose", quiet=2)
    return work


def _init_worker(parent: Path) -> None:
    global _WORK
    _WORK = _copy_package(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# cradlepose module -> the cradlepose modules it imports (of those the parent has loaded).
_IMPORTS: dict[str, set[str]] = {}


def _project_imports(name: str) -> set[str]:
    module = sys.modules.get(name)
    path = getattr(module, "__file__", None)
    if not path:
        return set()
    found: set[str] = set()
    for node in ast.walk(ast.parse(Path(path).read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("cradlepose"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cradlepose"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _preload(tests: list[Path], modules: list[str]) -> None:
    """Import, once in the parent, the project modules the tests import; children reuse them."""
    names = {f"cradlepose.domain.{m}" for m in modules}
    for test in tests:
        for node in ast.walk(ast.parse(test.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cradlepose"):
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(a.name for a in node.names if a.name.startswith("cradlepose"))
    for name in sorted(names):
        importlib.import_module(name)
    for name in list(sys.modules):
        if name == "cradlepose" or name.startswith("cradlepose."):
            _IMPORTS[name] = _project_imports(name)


def _dependents(module: str) -> set[str]:
    """The module and every loaded project module that imports it, directly or not."""
    result = {module}
    changed = True
    while changed:
        changed = False
        for name, imported in _IMPORTS.items():
            if name not in result and imported & result:
                result.add(name)
                changed = True
    return result


def _point_at_copy(package_root: Path, mutated: str) -> None:
    """Drop the mutated module and its importers; load them again from the copy."""
    for name in _dependents(mutated):
        sys.modules.pop(name, None)
        # `from cradlepose.domain import access` reads the package's attribute before importing.
        package, _, attribute = name.rpartition(".")
        if package in sys.modules and hasattr(sys.modules[package], attribute):
            delattr(sys.modules[package], attribute)
    for name, module in list(sys.modules.items()):
        if (name == "cradlepose" or name.startswith("cradlepose.")) and hasattr(module, "__path__"):
            module.__path__ = [str(package_root.joinpath(*name.split(".")))]
    sys.path.insert(0, str(package_root))


def _run_tests(package_root: Path, tests: list[Path], timeout: float, mutated: str) -> str:
    """'killed', 'survived' or 'timeout' for one pytest run in a forked child."""
    pid = os.fork()
    if pid == 0:  # the child: import the project from the copy, run the tests, exit with pytest's code
        code = 1
        try:
            sys.dont_write_bytecode = True
            _point_at_copy(package_root, mutated)
            # Only pytest itself: no plugins, no assertion rewriting, no conftest (the unit tests
            # need none of its database fixtures), and hypothesis without deadlines (a loaded
            # machine is not a failing test) and without randomness (the same examples each run).
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
            hypothesis.settings.register_profile("mutation", deadline=None, derandomize=True, database=None)
            hypothesis.settings.load_profile("mutation")
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            args = ["-q", "-x", "-p", "no:cacheprovider", "-m", "unit", "--assert=plain", "--noconftest"]
            args += ["-o", "addopts=", "--rootdir", str(ROOT), *map(str, tests)]
            code = int(pytest.main(args))
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            if code == 0:
                return "survived"
            if code == 5:  # no tests collected: a broken selection, not a kill
                return "error"
            return "killed"
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.02)


def _run_mutant(job: tuple[Mutant, list[Path], float]) -> tuple[Mutant, str, float]:
    mutant, tests, timeout = job
    assert _WORK is not None
    target = _WORK / "cradlepose" / "domain" / f"{mutant.module}.py"
    original = (DOMAIN / f"{mutant.module}.py").read_text()
    started = time.monotonic()
    try:
        target.write_text(mutant.source)
        for stale in (target.parent / "__pycache__").glob(f"{mutant.module}.*.pyc"):
            stale.unlink()
        outcome = _run_tests(_WORK, tests, timeout, f"cradlepose.domain.{mutant.module}")
    finally:
        target.write_text(original)
    return mutant, outcome, time.monotonic() - started


def _baseline(module_name: str, tests: list[Path], parent: Path) -> float:
    """Seconds the tests take on the unmutated copy (they must pass), after checking that the copy is
    what the tests import: a copy of the module that raises on import must fail them."""
    work = _copy_package(parent)
    target = work / "cradlepose" / "domain" / f"{module_name}.py"
    original = target.read_text()
    target.write_text(original + "\nraise RuntimeError('mutation sentinel')\n")
    mutated = f"cradlepose.domain.{module_name}"
    if _run_tests(work, tests, 600, mutated) != "killed":
        raise SystemExit(f"the tests of {module_name} do not import the package copy; is PYTHONPATH set?")
    target.write_text(original)
    started = time.monotonic()
    outcome = _run_tests(work, tests, 600, mutated)
    if outcome != "survived":
        raise SystemExit(f"the tests fail on the unmutated code ({outcome}): {' '.join(map(str, tests))}")
    return time.monotonic() - started


def load_equivalents(path: Path) -> dict[str, str]:
    """id -> reason from lines `<id>  # <reason>` (blank lines and lines starting with # skipped)."""
    result: dict[str, str] = {}
    if not path.exists():
        return result
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        mutant_id, _, reason = line.partition("  # ")
        if not reason.strip():
            raise SystemExit(f"{path}: every equivalent mutant needs a reason: {line}")
        result[mutant_id.strip()] = reason.strip()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = " ".join(RULE_MODULES)
    parser.add_argument("--modules", nargs="+", help=f"domain modules to mutate (default: {default})")
    parser.add_argument("--all", action="store_true", help="every module of domain/")
    parser.add_argument("--sample", type=int, help="run only N mutants per module, chosen at random")
    parser.add_argument("--seed", type=int, default=22, help="random seed of --sample")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--floor", type=float, default=0.0, help="exit 1 when the score (%%) is below this")
    parser.add_argument("--equivalents", type=Path, default=EQUIVALENTS)
    parser.add_argument("--list", action="store_true", help="print the mutants and stop")
    parser.add_argument("--show-survivors", action="store_true", help="print each survivor's changed lines")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(PACKAGE_ROOT))
    if args.all:
        modules = sorted(p.stem for p in DOMAIN.glob("*.py") if p.stem != "__init__")
    else:
        modules = list(args.modules or RULE_MODULES)
    equivalents = load_equivalents(args.equivalents)
    rng = random.Random(args.seed)
    scratch = Path(tempfile.mkdtemp(prefix="cradle-mutation-"))
    try:
        return _main(args, modules, equivalents, rng, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _main(
    args: argparse.Namespace,
    modules: list[str],
    equivalents: dict[str, str],
    rng: random.Random,
    scratch: Path,
) -> int:

    for name in PRELOAD:
        importlib.import_module(name)
    jobs: list[tuple[Mutant, list[Path], float]] = []
    excluded: list[Mutant] = []
    all_ids: set[str] = set()
    for name in modules:
        tests = tests_for(name)
        mutants = mutants_of(name)
        all_ids.update(m.id for m in mutants)
        if args.list:
            for m in mutants:
                print(m.id)
            continue
        if not tests:
            print(f"{name}: no unit test imports it; its {len(mutants)} mutants all survive")
        if args.sample is not None and len(mutants) > args.sample:
            mutants = rng.sample(mutants, args.sample)
        if tests:
            _preload(tests, modules)
        timeout = 5 * _baseline(name, tests, scratch) + 20 if tests else 0
        for m in mutants:
            if m.id in equivalents:
                excluded.append(m)
            else:
                jobs.append((m, tests, timeout))
        print(f"{name}: {len(mutants)} mutants, tests: {', '.join(t.name for t in tests) or '-'}", flush=True)
    if args.list:
        return 0
    if not args.modules and not args.all and args.sample is None:
        for stale in sorted(set(equivalents) - all_ids):
            print(f"warning: {args.equivalents.name} names a mutant that no longer exists: {stale}")

    started = time.monotonic()
    outcomes = ("killed", "survived", "timeout", "error")
    counts: dict[str, dict[str, int]] = {name: dict.fromkeys(outcomes, 0) for name in modules}
    survivors: list[Mutant] = []
    timeouts: list[Mutant] = []
    runnable = [job for job in jobs if job[1]]
    for mutant, tests, _ in jobs:
        if not tests:  # nothing tests the module: every mutant survives
            counts[mutant.module]["survived"] += 1
            survivors.append(mutant)
    context = multiprocessing.get_context("fork")
    with context.Pool(args.jobs, initializer=_init_worker, initargs=(scratch,)) as pool:
        for done, (mutant, outcome, _seconds) in enumerate(pool.imap_unordered(_run_mutant, runnable), 1):
            counts[mutant.module][outcome] += 1
            if outcome in {"survived", "error"}:
                survivors.append(mutant)
            elif outcome == "timeout":
                timeouts.append(mutant)
            if done % 25 == 0:
                print(f"  {done}/{len(runnable)} run, {time.monotonic() - started:.0f} s", flush=True)
    elapsed = time.monotonic() - started

    print()
    header = ("killed", "timeout", "survived", "error", "equiv", "score")
    print(f"{'module':<20}" + "".join(f"{h:>9}" for h in header))
    total_killed = total_counted = 0
    for name in modules:
        c = counts[name]
        killed = c["killed"] + c["timeout"]
        counted = killed + c["survived"] + c["error"]
        equiv = sum(1 for m in excluded if m.module == name)
        total_killed += killed
        total_counted += counted
        score = 100.0 * killed / counted if counted else 100.0
        cells = (c["killed"], c["timeout"], c["survived"], c["error"], equiv)
        print(f"{name:<20}" + "".join(f"{n:>9}" for n in cells) + f"{score:>8.1f}%")
    score = 100.0 * total_killed / total_counted if total_counted else 100.0
    print(
        f"\ntotal: {total_killed} of {total_counted} mutants killed ({score:.1f} %), "
        f"{len(excluded)} equivalent excluded, {elapsed:.0f} s with {args.jobs} jobs"
    )
    if timeouts:
        print("\ntimeouts (counted as killed):")
        for m in sorted(timeouts, key=lambda m: (m.module, m.line, m.col, m.detail)):
            print(f"  {m.id}")
    if survivors:
        print("\nsurvivors:")
        for m in sorted(survivors, key=lambda m: (m.module, m.line, m.col, m.detail)):
            print(f"  {m.id}")
            if args.show_survivors:
                _show(m)
    if score < args.floor:
        print(f"\nFAIL: score {score:.1f} % is below the floor of {args.floor:.1f} %")
        return 1
    return 0


def _show(mutant: Mutant) -> None:
    original = ast.unparse(ast.parse((DOMAIN / f"{mutant.module}.py").read_text())).splitlines()
    for line in difflib.unified_diff(original, mutant.source.splitlines(), lineterm="", n=0):
        if not line.startswith(("---", "+++", "@@")):
            print(f"      {line}")


if __name__ == "__main__":
    sys.exit(main())

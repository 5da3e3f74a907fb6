"""The layout the README's Architecture section promises: stage packages, data flowing one way, no
import cycle, no module over 400 lines, nothing importing the CLI."""
from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "em_gen"
MAX_LINES = 400

# stage -> the stages (and shared modules) it may import; a stage may always import itself
ALLOWED = {
    "library": set(),
    "guard": {"library"},
    "providers": {"library"},
    # the offline stand-in composes IRC logs with the quality stage's parser; only commands, eval and
    # tests start it
    "standin": {"library", "providers", "quality"},
    "quality": {"library", "providers"},
    "generate": {"library", "providers", "quality"},
    "train": {"library", "generate", "quality", "providers"},
    "report": {"library", "generate", "quality", "train", "providers"},
    "evaluate": {"library", "guard", "providers", "standin", "quality", "generate", "train", "report"},
    # Em in a live channel and real logs back in: the training render and rules, eval's targets
    "deploy": {"library", "providers", "quality", "evaluate", "train"},
    # the CLI package (em_gen/cli/): parse flags, call one stage, print
    "cli": {"library", "guard", "providers", "standin", "quality", "generate", "train", "evaluate", "report",
            "deploy"},
}


def modules() -> dict[str, Path]:
    out = {}
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(PKG.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = f
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """em_gen modules imported anywhere in the file (function-level imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            for a in node.names:
                full = f"{base}.{a.name}"
                out.add(full if full in known else base)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m in known and m != name}


def stage(mod: str) -> str:
    parts = mod.split(".")
    if parts[1:3] == ["providers", "standin"]:
        return "standin"
    return parts[1] if len(parts) > 1 else "em_gen"


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: imports_of(m, p, known) for m, p in mods.items()}


def test_at_least_four_stage_packages():
    stages = {p.parent.name for p in PKG.glob("*/__init__.py")}
    assert {"generate", "providers", "quality", "train", "evaluate"} <= stages


def test_no_module_over_400_lines():
    long = {str(p.relative_to(PKG.parent)): n for p in PKG.rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long


def test_no_import_cycle():
    g = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(g[m]):
            if state.get(n) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(n):] + [n]))
            if n not in state:
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m)


def test_stages_import_only_what_they_consume():
    bad = []
    for m, deps in graph().items():
        s = stage(m)
        if s == "em_gen":
            continue
        for d in deps:
            t = stage(d)
            if t != s and t != "em_gen" and t not in ALLOWED.get(s, set()):
                bad.append(f"{m} imports {d}")
    assert not bad


def test_nothing_imports_the_cli():
    users = [m for m, deps in graph().items() if stage(m) != "cli" and any(stage(d) == "cli" for d in deps)]
    assert not users


def test_every_subcommand_has_its_module():
    import importlib
    from em_gen.cli import SUBCOMMANDS
    for name, target in SUBCOMMANDS.items():
        module, _, func = target.partition(":")
        assert callable(getattr(importlib.import_module(module), func)), name

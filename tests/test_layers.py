"""Imports run one way: faces -> services -> solvers -> domain -> checkpoints and training ->
models -> engine -> kernels, over a base every layer may use; no module imports a higher layer
(at its top or inside a function), and no modules import each other in a cycle. Read from the
source (``ast``), so a lazy import counts as much as a top-level one."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Layer of each top-level part of the package, lowest first; a module may import its own layer
#: and those below it.
LAYERS = {
    "base": ["synth", "synth.errors", "synth.audio", "synth.device", "synth.lpc", "synth.envelope", "synth.splits"],
    "kernels": ["synth.kernels"],
    "engine": ["synth.sampling"],
    "models": ["synth.models"],
    "checkpoints and training": ["synth.checkpoint", "synth.training", "synth.training_state", "synth.training_speed", "synth.recipe"],
    "domain": ["synth.corpora", "synth.music", "synth.handwriting", "synth.tts", "synth.judges", "synth.evaluation"],
    "solvers": ["synth.solvers"],
    "services": ["synth.services", "synth.bench", "synth.load_test"],
    "faces": ["app", "synth.app", "synth.cli", "synth.__main__"],
}
RANK = {prefix: rank for rank, prefixes in enumerate(LAYERS.values()) for prefix in prefixes}
NAMES = list(LAYERS)
#: A module over this many lines has more than one thing in it (the C kernel is not Python).
MAX_LINES = 400
#: app.py was 624 lines before the layout moved to synth/app/.
MAX_APP_LINES = 200


def module_name(path: Path) -> str:
    if path == ROOT / "app.py":
        return "app"
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


SOURCES = {module_name(p): p for p in [ROOT / "app.py", *sorted((ROOT / "synth").rglob("*.py"))]}


def layer_of(module: str) -> int | None:
    """The rank of the longest prefix of ``module`` in LAYERS (the bare package ``synth`` only as itself)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in RANK and (prefix != "synth" or module == "synth"):
            return RANK[prefix]
    return None


def imported_modules(module: str) -> set[str]:
    """The package's modules that ``module`` imports anywhere in its source: ``from a import b``
    counts as ``a.b`` when that is a module, else as ``a``."""
    path = SOURCES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()

    def known(name: str) -> str | None:
        while name and name not in SOURCES:
            name = name.rpartition(".")[0]
        return name or None

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {known(alias.name) for alias in node.names if alias.name.split(".")[0] == "synth"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "synth":
                continue
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in SOURCES else known(base))
    return found - {None, module}


GRAPH = {module: imported_modules(module) for module in SOURCES}


def test_every_module_has_a_layer():
    homeless = sorted(m for m in SOURCES if layer_of(m) is None)
    assert not homeless, f"{homeless} belong to no layer; add their package to LAYERS in {Path(__file__).name}"


@pytest.mark.parametrize("module", sorted(SOURCES))
def test_no_module_imports_a_higher_layer(module):
    rank = layer_of(module)
    upward = sorted(f"{other} ({NAMES[layer_of(other)]})" for other in GRAPH[module]
                    if other != "synth" and layer_of(other) is not None and layer_of(other) > rank)
    assert not upward, f"{module} ({NAMES[rank]}) imports the higher {upward}"


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that reach each other."""
    index, low, stack, on_stack, groups, counter = {}, {}, [], set(), [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for other in edges:
                if other not in graph:
                    continue
                if other not in index:
                    index[other] = low[other] = counter[0]
                    counter[0] += 1
                    stack.append(other)
                    on_stack.add(other)
                    work.append((other, iter(sorted(graph[other]))))
                    break
                if other in on_stack:
                    low[node] = min(low[node], index[other])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(sorted(group))
    return groups


def test_no_modules_import_each_other_in_a_cycle():
    assert strongly_connected(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle_and_only_the_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e2"}, "e2": set()}
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_an_upward_import_would_be_caught():
    # the layer map itself: a solver importing a service is upward, a service importing a solver is not
    assert layer_of("synth.solvers.wavenet") < layer_of("synth.services.speech")
    assert layer_of("synth.models.wavenet") < layer_of("synth.solvers.wavenet")
    assert layer_of("synth.kernels") < layer_of("synth.models.wavenet_cpu") < layer_of("synth.checkpoint")


def test_no_library_module_is_over_the_line_limit():
    long = {m: n for m, p in SOURCES.items() if m != "app" and (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"
    assert len((ROOT / "app.py").read_text().splitlines()) <= MAX_APP_LINES

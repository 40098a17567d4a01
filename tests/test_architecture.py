"""The package's shape, read from its source with ``ast`` and ``tokenize`` (nothing is imported):

- every module sits in one layer (docs/architecture.md) and imports only from its own layer or
  the layers below, imports inside functions included;
- no two modules import each other, directly or round a longer circle;
- ``argparse`` is imported in ``cli/`` only;
- no file of ``scd_lab/`` is over 450 lines;
- no block of six or more lines is written twice in ``scd_lab/``, to the letter or with other
  names, strings and numbers.

Each check is a plain function over ``{path: source}``; the tests at the bottom run it on fake
packages first, so that a check that can no longer fail is seen to fail.
"""
from __future__ import annotations

import ast
import io
import keyword
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "scd_lab"

#: The layers, bottom up (docs/architecture.md). A name is a module or a package of scd_lab;
#: a package's ``__init__`` sits in its package's layer.
LAYERS: list[tuple[str, set[str]]] = [
    ("ground", {"errors", "io", "dist", "losses", "schedules", "paths", "tables", "rundir",
                "_version", "_malloc", "config", "models"}),
    ("library", {"data", "methods", "eval"}),
    ("train", {"train"}),
    ("runs", {"runs"}),
    ("viz", {"viz"}),
    ("studies", {"studies"}),
    ("cli", {"cli"}),
]
#: The faces, above every layer: the lazy exports of ``scd_lab`` and the notebooks' ``scd_lab.lab``.
FACES = {PACKAGE, f"{PACKAGE}.lab"}
MAX_LINES = 450
WINDOW = 6            # lines in a repeated block
MIN_DISTINCT = 10     # distinct shape tokens a block needs to count. Below it: plumbing, such
                      # as a run of add_argument calls or of dataclass fields. Calibrated on
                      # `duplicates --most 60` (run in scd_lab/): at 10 every pair it does not
                      # mark boilerplate is found, but for runs of dataclass fields.
TOO_COMMON = 8        # a shape in more places than this is an idiom, not a copy


# --- reading the package ---------------------------------------------------------------------

def package_sources(root: Path = REPO, package: str = PACKAGE) -> dict[str, str]:
    """{path relative to ``root``: source} of every ``.py`` file of the package."""
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted((root / package).rglob("*.py"))}


def module_name(path: str) -> str:
    """``scd_lab/data/stream.py`` -> ``scd_lab.data.stream``; ``scd_lab/data/__init__.py`` ->
    ``scd_lab.data``."""
    parts = path[:-3].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: str, source: str, known: set[str]) -> list[tuple[int, str]]:
    """(line, imported module) for every import statement of the file, at any depth.

    A relative import is made absolute; ``from pkg import name`` is an import of ``pkg.name``
    where that is a module of ``known``, else of ``pkg`` itself."""
    here = module_name(path)
    package = here if path.endswith("__init__.py") else here.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.append((node.lineno, sub if sub in known else base))
    return sorted(found)


def own_module(name: str, known: set[str]) -> str | None:
    """The module of the package that importing ``name`` names (its longest known prefix),
    or None for a module from outside."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in known:
            return ".".join(parts[:n])
    return None


def import_graph(sources: dict[str, str]) -> dict[str, list[tuple[str, int, str]]]:
    """{module: [(path, line, imported module of the package)]}."""
    names = {module_name(p): p for p in sources}
    known = set(names)
    graph: dict[str, list[tuple[str, int, str]]] = {m: [] for m in names}
    for path, source in sources.items():
        for line, target in imports(path, source, known):
            own = own_module(target, known)
            if own is not None and own != module_name(path):
                graph[module_name(path)].append((path, line, own))
    return graph


def layer_of(module: str, package: str = PACKAGE) -> int | None:
    """The layer's number (0 is ground; the faces above all), or None for a module that no
    layer names."""
    if module in {package, f"{package}.lab"}:
        return len(LAYERS)
    top = module.split(".")[1]
    return next((i for i, (_, names) in enumerate(LAYERS) if top in names), None)


# --- the checks: each returns its findings, one line each ---------------------------------------

def layer_violations(sources: dict[str, str], package: str = PACKAGE) -> list[str]:
    graph = import_graph(sources)
    out = [f"{sources_path(sources, m)}: {m} sits in no layer; add it to LAYERS "
           "(and docs/architecture.md)" for m in graph if layer_of(m, package) is None]
    for module, edges in graph.items():
        mine = layer_of(module, package)
        for path, line, target in edges:
            theirs = layer_of(target, package)
            if mine is not None and theirs is not None and theirs > mine:
                out.append(f"{path}:{line}: imports {target} ({_layer_name(theirs)}), above "
                           f"its own layer ({_layer_name(mine)})")
    return out


def _layer_name(i: int) -> str:
    return LAYERS[i][0] if i < len(LAYERS) else "faces"


def sources_path(sources: dict[str, str], module: str) -> str:
    return next(p for p in sources if module_name(p) == module)


def circles(sources: dict[str, str]) -> list[str]:
    """Every set of modules that import each other round a circle (strongly connected
    components of the import graph, Tarjan's algorithm), each with one of its circles."""
    graph = {m: sorted({t for _, _, t in edges}) for m, edges in import_graph(sources).items()}
    where = {(m, t): (p, line) for m, edges in import_graph(sources).items()
             for p, line, t in edges}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    out = []
    for comp in components:
        loop = _one_circle(comp[0], set(comp), graph)
        steps = [f"{where[a, b][0]}:{where[a, b][1]} imports {b}" for a, b in zip(loop, loop[1:])]
        out.append("circle: " + "; ".join(steps))
    return out


def _one_circle(start: str, comp: set[str], graph: dict[str, list[str]]) -> list[str]:
    """A path start -> ... -> start inside one component (breadth first: a shortest one)."""
    paths = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in graph[v]:
            if w == start:
                return paths[v] + [start]
            if w in comp and w not in paths:
                paths[w] = paths[v] + [w]
                todo.append(w)
    raise AssertionError("not a circle")  # pragma: no cover


def argparse_outside_cli(sources: dict[str, str], package: str = PACKAGE) -> list[str]:
    return [f"{path}:{line}: imports argparse (it belongs in {package}/cli/)"
            for path, source in sources.items() if not path.startswith(f"{package}/cli/")
            for line, target in imports(path, source, set())
            if target.split(".")[0] == "argparse"]


def long_files(sources: dict[str, str], limit: int = MAX_LINES) -> list[str]:
    return [f"{path}: {n} lines (at most {limit})" for path, source in sources.items()
            if (n := len(source.splitlines())) > limit]


SKIP = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
        tokenize.ENCODING, tokenize.ENDMARKER}


def line_shapes(source: str) -> list[tuple[int, tuple[str, ...]]]:
    """(line number, shape) of every line that carries code: names become ``x``, strings
    ``s``, numbers ``0``; keywords and operators stay. Passed over: blank and comment lines,
    docstrings and other lone strings, import lines, and lines of brackets and commas alone."""
    rows: dict[int, list[str]] = {}
    kinds: dict[int, list[int]] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type in SKIP or tok.type == getattr(tokenize, "FSTRING_MIDDLE", -1) \
                or tok.type == getattr(tokenize, "FSTRING_END", -1):
            continue
        if tok.type == tokenize.NAME:
            shape = tok.string if keyword.iskeyword(tok.string) else "x"
        elif tok.type in (tokenize.STRING, getattr(tokenize, "FSTRING_START", -1)):
            shape = "s"
        elif tok.type == tokenize.NUMBER:
            shape = "0"
        else:
            shape = tok.string
        rows.setdefault(tok.start[0], []).append(shape)
        kinds.setdefault(tok.start[0], []).append(tok.type)
    out = []
    for n, shape in sorted(rows.items()):
        if shape[0] in ("import", "from") or set(shape) <= set("()[]{},:;") \
                or kinds[n] == [tokenize.STRING]:
            continue
        out.append((n, tuple(shape)))
    return out


def repeated_blocks(sources: dict[str, str], window: int = WINDOW,
                    min_distinct: int = MIN_DISTINCT) -> list[str]:
    """Pairs of places that share a block of ``window`` code lines of the same shape (the
    same lines, or the same lines under other names, strings and numbers), one finding per
    pair of files, with the longest run of shared lines."""
    places: dict[tuple, list[tuple[str, int, int]]] = {}
    for path, source in sources.items():
        lines = line_shapes(source)
        for i in range(len(lines) - window + 1):
            chunk = lines[i:i + window]
            shape = tuple(s for _, s in chunk)
            if len({t for s in shape for t in s}) >= min_distinct:
                places.setdefault(shape, []).append((path, chunk[0][0], chunk[-1][0]))
    hits: dict[tuple[str, str], list[tuple[int, int, int, int]]] = {}
    for found in places.values():
        if len(found) > TOO_COMMON:
            continue
        for i, (pa, a1, a2) in enumerate(found):
            for pb, b1, b2 in found[i + 1:]:
                if pa == pb and b1 <= a2:
                    continue  # overlapping windows of one file
                hits.setdefault((pa, pb), []).append((a1, a2, b1, b2))
    out = []
    for (pa, pb), spans in sorted(hits.items()):
        runs: list[list[int]] = []
        for a1, a2, b1, b2 in sorted(spans):
            if runs and runs[-1][0] <= a1 <= runs[-1][1] + 1 and runs[-1][2] <= b1 <= runs[-1][3] + 1:
                runs[-1][1], runs[-1][3] = max(runs[-1][1], a2), max(runs[-1][3], b2)
            else:
                runs.append([a1, a2, b1, b2])
        a1, a2, b1, b2 = max(runs, key=lambda r: r[1] - r[0])
        more = f" (+{len(runs) - 1} more)" if len(runs) > 1 else ""
        out.append(f"{pa}:{a1}-{a2} ~ {pb}:{b1}-{b2}{more}")
    return out


# --- the package ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sources() -> dict[str, str]:
    return package_sources()


def test_every_import_goes_down_the_layers(sources):
    assert layer_violations(sources) == []


def test_no_circle_of_imports(sources):
    assert circles(sources) == []


def test_argparse_only_in_cli(sources):
    assert argparse_outside_cli(sources) == []


def test_no_file_over_450_lines(sources):
    assert long_files(sources) == []


def test_no_block_of_six_lines_written_twice(sources):
    assert repeated_blocks(sources) == []


# --- the checks themselves, on fake packages ----------------------------------------------------

def test_relative_and_function_local_imports_are_read():
    src = ("from . import errors\nfrom ..train import trainer\n"
           "def f():\n    from ..runs.build import build_run\n    import scd_lab.viz\n")
    known = {"scd_lab.data.errors", "scd_lab.train", "scd_lab.train.trainer",
             "scd_lab.runs.build", "scd_lab.viz"}
    assert imports("scd_lab/data/x.py", src, known) == [
        (1, "scd_lab.data.errors"), (2, "scd_lab.train.trainer"), (4, "scd_lab.runs.build"),
        (5, "scd_lab.viz")]
    # in an __init__, one dot is the package itself
    assert imports("scd_lab/data/__init__.py", "from .stream import S\n", {"scd_lab.data.stream"}) \
        == [(1, "scd_lab.data.stream")]


def test_an_upward_import_inside_a_function_is_named():
    fake = {"scd_lab/__init__.py": "", "scd_lab/losses.py": "",
            "scd_lab/train/__init__.py": "",
            "scd_lab/data/__init__.py": "",
            "scd_lab/data/stream.py": "def f():\n    from ..train import seed_for\n"}
    assert layer_violations(fake) == [
        "scd_lab/data/stream.py:2: imports scd_lab.train (train), above its own layer (library)"]
    fake["scd_lab/oddity.py"] = ""
    assert "scd_lab/oddity.py: scd_lab.oddity sits in no layer" in layer_violations(fake)[0]


def test_a_circle_is_found_and_an_init_importing_its_submodules_is_not_one():
    fake = {"scd_lab/__init__.py": "", "scd_lab/runs/__init__.py": "from .a import A\n",
            "scd_lab/runs/a.py": "from .b import B\n", "scd_lab/runs/b.py": "x = 1\n"}
    assert circles(fake) == []
    fake["scd_lab/runs/b.py"] = "def f():\n    from . import a\n"
    assert circles(fake) == ["circle: scd_lab/runs/a.py:1 imports scd_lab.runs.b; "
                             "scd_lab/runs/b.py:2 imports scd_lab.runs.a"]
    fake["scd_lab/runs/b.py"] = "from ..runs import A\n"  # back to the __init__
    assert len(circles(fake)) == 1


def test_argparse_and_long_files_are_found():
    fake = {"scd_lab/cli/x.py": "import argparse\n", "scd_lab/viz/y.py": "from argparse import A\n",
            "scd_lab/z.py": "x = 1\n" * 451}
    assert argparse_outside_cli(fake) == [
        "scd_lab/viz/y.py:1: imports argparse (it belongs in scd_lab/cli/)"]
    assert long_files(fake) == ["scd_lab/z.py: 451 lines (at most 450)"]


BLOCK = '''
def area(shape, scale=2.0):
    """A docstring, passed over."""
    if shape.width <= 0 or shape.height <= 0:
        raise ValueError(f"empty shape {shape!r}")
    total = shape.width * shape.height * scale
    for hole in shape.holes:  # a comment, passed over
        total -= hole.width * hole.height
    return max(total, 0.0)
'''


def test_a_block_written_again_under_other_names_is_found():
    renamed = (BLOCK.replace("area", "volume").replace("shape", "box").replace("2.0", "3.0")
               .replace("holes", "gaps").replace("hole", "gap"))
    fake = {"scd_lab/a.py": BLOCK, "scd_lab/b.py": "x = 1\n" + renamed}
    assert repeated_blocks(fake) == ["scd_lab/a.py:2-9 ~ scd_lab/b.py:3-10"]
    # a block of plumbing (six calls of one shape) is too thin to count
    calls = "".join(f'p.add_argument("--o{i}", type=int, default={i}, help="h")\n'
                    for i in range(6))
    assert repeated_blocks({"scd_lab/a.py": calls, "scd_lab/b.py": calls}) == []

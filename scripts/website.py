"""The documentation site: README, docs/*.md, the notebooks executed, the saliency explorer as
HTML, a CLI reference from the parsers and an API reference from the docstrings, built with
mkdocs-material, mkdocs-jupyter and mkdocstrings (all from PyPI; no node).

    python scripts/website.py build                   # execute the notebooks (full), build site/
    python scripts/website.py build --execute smoke   # SMOKE = True: minutes, not hours
    python scripts/website.py build --execute off     # no kernel: executed copies from the
                                                   # cache when there, else without outputs
    python scripts/website.py check                   # every page and internal link resolves

It stages everything under ``build/site-src/`` (git-ignored), then runs ``mkdocs build``
(``mkdocs.yml``) into ``site/``. Links that leave the staged pages (a source file, a folder
of the repository) become links to the repository on GitHub (``scd_lab.paths.REPO_URL``).

Executed notebooks are cached outside git (``executed_cache()``: ``$SCD_LAB_CACHE/executed``,
else the user cache of scd_lab), one file per notebook source and mode, named by the sha256
of the source text: an unchanged notebook is not executed again, and an edited one is. The
notebook test (tests/test_notebooks.py) puts its smoke executions there under the same key,
so a smoke build after the test suite executes nothing. Outputs never go into notebooks/.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "build" / "site-src"
SITE = ROOT / "site"
INLINE = "module://matplotlib_inline.backend_inline"  # figures as outputs, no GUI
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")


def executed_cache(root=None) -> Path:
    """Where executed notebooks are kept: ``root/executed`` (``root``: a cache folder, default
    ``$SCD_LAB_CACHE``), else the user cache of scd_lab."""
    root = root or os.environ.get("SCD_LAB_CACHE")
    if root:
        return Path(root) / "executed"
    from platformdirs import user_cache_dir
    return Path(user_cache_dir("scd_lab")) / "executed"


def cache_key(source: str, mode: str) -> str:
    """``NAME``-independent key of one execution: the mode and the source's sha256."""
    return f"{mode}-{hashlib.sha256(source.encode()).hexdigest()[:20]}.ipynb"


def cached(source: str, mode: str, root=None) -> Path:
    return executed_cache(root) / cache_key(source, mode)


def store(source: str, mode: str, nb, root=None) -> Path:
    """Keep an executed notebook (nbformat node) under its key (written atomically)."""
    import nbformat
    path = cached(source, mode, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return path


def execute(nb, smoke: bool, workdir: Path):
    """Run a notebook top to bottom in ``workdir`` (runs and data there), ``SMOKE = True``
    injected after its parameters cell when ``smoke``; returns it with its outputs."""
    import nbformat
    from nbclient import NotebookClient
    if smoke:
        at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(
            "SMOKE = True", metadata={"tags": ["injected-parameters"]}))
    env = {"MPLBACKEND": INLINE, "SCD_LAB_RUNS": str(workdir / "runs")}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=3600, kernel_name="python3",
                       resources={"metadata": {"path": str(workdir)}}).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return nb


def notebook(src: Path, mode: str):
    """The notebook of a source, executed per ``mode`` ("full", "smoke": from the cache or
    run now; "off": the cached full or smoke copy when there, else without outputs)."""
    import jupytext
    text = src.read_text()
    for m in ((mode,) if mode != "off" else ("full", "smoke")):
        if cached(text, m).is_file():
            import nbformat
            return nbformat.read(cached(text, m), as_version=4), m
    nb = jupytext.reads(text, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    if mode == "off":
        return nb, "not executed"
    with tempfile.TemporaryDirectory() as tmp:
        print(f"executing {src.name} ({mode})", flush=True)
        nb = execute(nb, mode == "smoke", Path(tmp))
    store(text, mode, nb)
    return nb, mode


def rewrite_links(text: str, src: Path, dest: Path, staged: dict[Path, Path], url: str) -> str:
    """Markdown links of ``src`` (a repository file) as seen from ``dest`` (its staged copy):
    to a staged file, relative between the staged copies; to anything else in the repository,
    its page on GitHub; external links and anchors unchanged."""
    def fix(m):
        target = m.group(2)
        if re.match(r"^[a-z]+:|^#|^/", target):
            return m.group(0)
        path, _, anchor = target.partition("#")
        repo_path = (src.parent / path).resolve()
        if repo_path in staged:
            new = os.path.relpath(staged[repo_path], dest.parent)
        else:
            rel = repo_path.relative_to(ROOT).as_posix()
            new = f"{url}/{'tree' if repo_path.is_dir() else 'blob'}/main/{rel}"
        return m.group(1) + new + ("#" + anchor if anchor else "") + m.group(3)
    return LINK.sub(fix, text)


def cli_reference() -> str:
    """Every verb's ``--help``, from the parsers (``scd_lab.cli.build_parser``)."""
    from scd_lab.cli import build_parser
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    out = ["# Command-line reference\n", "Generated from the parsers by `scripts/website.py`.\n",
           "```text", parser.format_help().rstrip(), "```\n"]
    for name, p in sub.choices.items():
        out += [f"## `scd-lab {name}`\n", "```text", p.format_help().rstrip(), "```\n"]
    return "\n".join(out)


API_MODULES = {  # page -> modules documented from their docstrings (mkdocstrings)
    "lab": ["scd_lab.lab"],
    "methods": ["scd_lab.methods.base", "scd_lab.methods.byol", "scd_lab.methods.moco",
                "scd_lab.methods.scd", "scd_lab.methods.lewel"],
    "runs": ["scd_lab.rundir", "scd_lab.runs.load", "scd_lab.runs.build", "scd_lab.train.trainer"],
    "evaluation": ["scd_lab.eval.saliency_metrics", "scd_lab.eval.attribution"],
    "explorer": ["scd_lab.viz.explorer.model", "scd_lab.viz.explorer.space",
                 "scd_lab.viz.explorer.export"],
}


def stage(mode: str, explorer: bool | str = True) -> dict:
    """Write the site's sources into ``STAGE``; returns what each notebook was built from.
    ``explorer``: export the demo runs' HTML explorer (True), copy that file from a path
    written before (``scd-lab explore --html PATH --reference demo``), or leave it out."""
    sys.path.insert(0, str(ROOT))
    from scd_lab.paths import REPO_URL
    shutil.rmtree(STAGE, ignore_errors=True)
    STAGE.mkdir(parents=True)
    pages = {ROOT / "README.md": STAGE / "index.md"}
    pages.update({p: STAGE / p.name for p in sorted((ROOT / "docs").glob("*.md"))})
    nbs = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    staged = {**pages, **{p.with_suffix(".ipynb"): STAGE / "notebooks" / p.with_suffix(".ipynb").name
                          for p in nbs}}
    for d in (ROOT / "docs").iterdir():  # images and folders of docs/
        if d.suffix != ".md":
            (shutil.copytree if d.is_dir() else shutil.copy2)(d, STAGE / d.name)
            for f in ([d] if d.is_file() else d.rglob("*")):
                staged[f.resolve()] = STAGE / f.relative_to(ROOT / "docs")
    for src, dest in pages.items():
        dest.write_text(rewrite_links(src.read_text(), src, dest, staged, REPO_URL))
    built = {}
    (STAGE / "notebooks").mkdir()
    for src in nbs:
        nb, how = notebook(src, mode)
        dest = staged[src.with_suffix(".ipynb")]
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = rewrite_links(cell.source, src, dest, staged, REPO_URL)
        nb.metadata.pop("jupytext", None)  # else mkdocs-jupyter shows it as a YAML header
        import nbformat
        nbformat.write(nb, dest)
        built[src.name] = how
    ref = STAGE / "reference"
    ref.mkdir()
    (ref / "cli.md").write_text(cli_reference())
    for page, modules in API_MODULES.items():
        (ref / f"api-{page}.md").write_text(f"# API: {page}\n\n" + "\n\n".join(
            f"::: {m}" for m in modules) + "\n")
    if isinstance(explorer, str):
        (STAGE / "explorer").mkdir()
        shutil.copy2(explorer, STAGE / "explorer" / "demo.html")
    elif explorer:
        from scd_lab.viz.explorer import ExplorerModel, reference_runs
        from scd_lab.viz.explorer.export import export_html
        export_html(ExplorerModel(reference_runs("demo"), display=128),
                    STAGE / "explorer" / "demo.html")
    if explorer:
        (STAGE / "explorer.md").write_text(EXPLORER_PAGE)
    return built


EXPLORER_PAGE = """# The saliency explorer, in the browser

The shipped demo runs (BYOL, LEWEL-BYOL, SCD-BYOL; 6 epochs on the CPU) as the kit's
self-contained HTML explorer: no kernel, no network. Move the epoch slider, pick an image and
a map, flip the polarity. [Open it on its own page](explorer/demo.html) (a course can post
that one file as it is); `scd-lab explore --html OUT.html RUN...` writes one for any runs.

<iframe src="explorer/demo.html" style="width:100%;height:900px;border:1px solid #ddd"></iframe>
"""


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and tag in ("a", "img", "iframe", "script", "link"):
                self.links.append(a[key])


def check(site: Path = SITE) -> list[str]:
    """Every internal link and image of every page of ``site`` that does not resolve."""
    bad = []
    pages = sorted(site.rglob("*.html"))
    if not pages:
        return [f"{site} holds no pages: build first"]
    for page in pages:
        if page.parent.name == "explorer" or page.name == "404.html":
            continue  # the explorer: data URIs only (its own test opens it); 404: absolute
        parser = _Links()
        parser.feed(page.read_text(errors="replace"))
        for link in parser.links:
            if re.match(r"^[a-z]+:|^//|^#", link):
                continue
            path = link.split("#")[0].split("?")[0]
            target = (page.parent / path).resolve()
            if path.endswith("/") or target.is_dir():
                target = target / "index.html"
            if not target.exists():
                bad.append(f"{page.relative_to(site)}: {link}")
    return bad


def build(mode: str, explorer: bool | str = True) -> int:
    built = stage(mode, explorer)
    for name, how in built.items():
        print(f"  {name}: {how}")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "-f",
                        str(ROOT / "mkdocs.yml"), "-d", str(SITE)], cwd=ROOT)
    if r.returncode:
        return r.returncode
    bad = check()
    print("\n".join(bad) or f"site: {SITE} ({len(list(SITE.rglob('*.html')))} pages, every "
          "internal link resolves)")
    return 1 if bad else 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["build", "check"])
    ap.add_argument("--execute", choices=["full", "smoke", "off"], default="full")
    ap.add_argument("--explorer", default=None, metavar="HTML",
                    help="the demo runs' explorer written before by `scd-lab explore --html "
                         "HTML --reference demo` (default: export it now)")
    args = ap.parse_args()
    if args.what == "check":
        problems = check()
        print("\n".join(problems) or "every internal link resolves")
        sys.exit(1 if problems else 0)
    sys.exit(build(args.execute, args.explorer or True))

"""The documentation site built from a clean copy of the repository (``scripts/website.py``,
the README's command, with ``--execute off``: notebooks come executed from the cache that
``test_notebooks.py`` fills when it ran before, else without outputs), every page and
internal link resolving; and the HTML explorer of the shipped demo runs, written by the
README's ``scd-lab explore`` command (the site embeds that file), opened from ``file://`` in
headless Chromium (as ``tests/viz/test_browser.py`` drives it): the slider moves the image,
the console stays clean, nothing is fetched. Screenshots go to ``$SCD_LAB_SCREENSHOTS``
(default: a tmp folder)."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from testenv import CHILD_THREADS, SHARED_CACHE

REPO = Path(__file__).resolve().parents[1]
EXPLORE = "scd-lab explore --html runs/explorer.html --reference demo"  # in the README
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900),
              pytest.mark.xdist_group("site")]  # one worker builds the site once


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A clean copy (what ``git clone`` gives: tracked files and new ones not ignored, no
    build products), and the site built in it by the README's command."""
    if importlib_missing("mkdocs", "mkdocs_jupyter", "mkdocstrings"):
        pytest.skip("the docs packages are missing: pip install -e .[docs]")
    copy = tmp_path_factory.mktemp("clone") / "scd_lab"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        src = REPO / f
        if src.is_file():
            (copy / f).parent.mkdir(parents=True, exist_ok=True)
            (copy / f).write_bytes(src.read_bytes())
    env = {**os.environ, "PYTHONPATH": str(copy), "OMP_NUM_THREADS": CHILD_THREADS,
           "SCD_LAB_CACHE": os.environ.get("SCD_LAB_CACHE", SHARED_CACHE),
           "NO_MKDOCS_2_WARNING": "1"}
    # the README's command, as written (runs/ of the clean copy)
    r = subprocess.run([sys.executable, "-m", "scd_lab.cli", *EXPLORE.split()[1:]], cwd=copy,
                       env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0 and "wrote" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([sys.executable, "scripts/website.py", "build", "--execute", "off",
                        "--explorer", EXPLORE.split()[3]],
                       cwd=copy, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "every internal link resolves" in r.stdout
    return copy / "site"


def importlib_missing(*names) -> bool:
    import importlib.util
    return any(importlib.util.find_spec(n) is None for n in names)


def test_every_page_is_built_and_every_link_resolves(site):
    pages = {p.relative_to(site).as_posix() for p in site.rglob("*.html")}
    want = {"index.html", "explorer.html", "explorer/demo.html", "reference/cli.html"}
    want |= {f"{p.stem}.html" for p in (REPO / "docs").glob("*.md")}
    want |= {f"notebooks/{p.stem}.html" for p in (REPO / "notebooks").glob("[0-9][0-9]_*.py")}
    assert want <= pages, sorted(want - pages)
    cli = (site / "reference" / "cli.html").read_text()
    assert "scd-lab explore" in cli and "--html" in cli
    api = (site / "reference" / "api-methods.html").read_text()
    assert "SCD" in api and "discrimination" in api  # from the docstrings
    spec = __import__("importlib.util").util.spec_from_file_location(
        "website", REPO / "scripts" / "website.py")
    website = __import__("importlib.util").util.module_from_spec(spec)
    spec.loader.exec_module(website)
    assert website.check(site) == []
    (site / "method.html").unlink()  # the check can fail: a page gone, links to it dangle
    assert any("method.html" in b for b in website.check(site))


def test_the_explorer_page_in_chromium(site, tmp_path):
    chromium = Path("/usr/bin/chromium")
    if not chromium.exists() or importlib_missing("playwright"):
        pytest.skip("needs /usr/bin/chromium and the playwright package")
    from playwright.sync_api import sync_playwright

    page_path = site / "explorer" / "demo.html"  # all 32 probe images of the demo runs
    assert page_path.stat().st_size < 10e6  # the shipped reference runs: under 10 MB
    shots = Path(os.environ.get("SCD_LAB_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            console: list[str] = []
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: console.append(str(e)))
            page.route("**/*", lambda route: route.abort()
                       if not route.request.url.startswith(("file:", "data:"))
                       else route.continue_())  # no network
            page.goto(page_path.as_uri())
            view = page.wait_for_selector(".run .view")
            page.select_option("#image", index=5)
            before = view.screenshot()
            page.screenshot(path=str(shots / "explorer_html.png"), full_page=True)
            page.focus("#epoch")
            page.keyboard.press("Home")  # the slider to epoch 0
            end = time.time() + 10
            after = view.screenshot()
            while after == before and time.time() < end:
                page.wait_for_timeout(100)
                after = view.screenshot()
            assert after != before, "the overlay did not change when the slider moved"
            assert "epoch 0" in page.inner_text("#epoch-label")
            assert "epoch 0" in page.inner_text(".run .caption")
            page.check(".run input[type=checkbox]")  # polarity flip of the first run
            assert "(1 − map)" in page.inner_text(".run .caption")
            assert not console, console
            site_page = browser.new_page(viewport={"width": 1280, "height": 900})
            site_page.goto((site / "index.html").as_uri())
            site_page.screenshot(path=str(shots / "site_index.png"))
            site_page.goto((site / "notebooks" / "05_saliency_explorer.html").as_uri())
            site_page.screenshot(path=str(shots / "site_notebook05.png"))
        finally:
            browser.close()

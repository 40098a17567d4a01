"""The course kit: the registry's shape, the feedback (item, case, the common mistake, hints
that escalate and hold no code, never a traceback), the grader (hidden cases, isolation, a
library call scores 0, check cells do not count, each broken solution loses exactly its
points), and the student release (no solutions, rubrics or jupytext pairing)."""
from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import pytest
import torch

from scd_lab.errors import UserError
from scd_lab.studies.course import build, feedback, grade
from scd_lab.studies.course.registry import REGISTRY, item, notebook_items, notebooks

REPO = Path(__file__).resolve().parents[2]
GRADED = sorted(p for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")
                if notebook_items(p.name[:2]))
AUTO = [it for it in REGISTRY.values() if it.kind != "written"]


def test_the_registry_has_the_course_the_issue_asks_for():
    items = list(REGISTRY.values())
    assert len(items) >= 24 and all(it.points > 0 for it in items)
    nbs = notebooks()
    assert {"00", "02"} <= set(nbs) and len(set(nbs) - {"00", "02"}) >= 4
    assert {it.kind for it in items} == {"function", "numeric", "written"}
    for it in items:
        if it.kind == "function":
            assert it.visible and it.hidden and it.mistakes and len(it.hints) >= 2, it.id
        elif it.kind == "numeric":
            assert it.tol > 0 and it.source and len(it.hints) >= 2, it.id
        else:
            assert it.model_answer and it.rubric, it.id
    assert any(it.kind == "written" for it in notebook_items("09"))


def test_hints_and_feedback_hold_no_code():
    code = re.compile(r"\bdef |\breturn\b|torch\.|\bF\.|\.sum\(|\.mean\(|_\(|import ")
    for it in REGISTRY.values():
        for h in it.hints:
            assert not code.search(h), (it.id, h)
        for m in it.mistakes:
            assert not code.search(m.says), (it.id, m.says)


@pytest.mark.parametrize("it", [i for i in REGISTRY.values() if i.kind == "function"],
                         ids=lambda i: i.id)
def test_each_common_mistake_is_named_in_a_short_block(it):
    for m in it.mistakes:
        result = feedback.evaluate(it, m.fn, hidden=True)
        block = result.block()
        assert not result.passed and m.says in block.replace("\n  ", " "), block
        assert it.id in block and f'case "{result.case}"' in block and "Traceback" not in block
        assert len(block.splitlines()) <= 8


def test_nan_from_a_zero_denominator_is_named():
    def no_eps(f, w, eps=1e-6):
        return (f * w[:, None]).sum(dim=(2, 3)) / w.sum(dim=(1, 2))[:, None]
    result = feedback.evaluate(item("02-wap"), no_eps)
    assert result.case == "all-zero map" and "zero denominator" in result.what


def test_a_failed_check_is_a_block_not_a_traceback(capsys):
    with pytest.raises(feedback.CheckFailed) as exc:
        feedback.check("02-wap", lambda f, w, eps=1e-6: (f * w[:, None]).sum(dim=(2, 3)))
    lines = exc.value._render_traceback_()  # what IPython shows instead of a traceback
    assert lines[0].startswith("✗ 02-wap") and "no normalisation" in " ".join(lines)
    # without a value, check reads the answer from the notebook's names (the caller's globals)
    exec('check("00-ema-halflife")', {"check": feedback.check, "HALF_LIFE": 69})  # noqa: S102
    assert capsys.readouterr().out.startswith("✓ 00-ema-halflife")
    with pytest.raises(feedback.CheckFailed, match="not defined: run the answer cell"):
        exec('check("00-ema-halflife")', {"check": feedback.check})  # noqa: S102


def test_hints_escalate_from_the_concept_to_the_formula(capsys, monkeypatch):
    monkeypatch.setattr(feedback, "_asked", {})  # a fresh kernel: no hint asked yet
    it = item("02-ld")
    for _ in range(3):
        feedback.hint("02-ld")
    out = capsys.readouterr().out.replace("\n", " ")
    assert out.index("hint 1/2") < out.index("hint 2/2") < out.index("no more hints")
    assert "L_d = 1/2" not in out.split("hint 2/2")[0]  # the formula only when asked again
    assert it.hints[1][:20] in out


def _notebook(name: str) -> dict:
    return json.loads(next((REPO / "notebooks").glob(f"{name}_*.ipynb")).read_text())


def _write(tmp_path: Path, nb: dict, name: str = "nb.ipynb") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(nb))
    return path


def _cell(nb: dict, grade_id: str) -> dict:
    return next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id")
                == grade_id)


def _score(rows) -> dict:
    return {r.item: r.points for r in rows}


def _broken(source: str, it) -> str:
    """The solution with its region replaced by a wrong answer that runs."""
    wrong = f"{it.name} = {float(it.expected()) + 1.0}" if it.kind == "numeric" else "return None"
    return build.SOLUTION.sub(lambda m: f"{m['indent']}{wrong}\n", source + "\n")


@pytest.mark.parametrize("name", sorted({it.notebook for it in AUTO}))
def test_breaking_each_solution_loses_exactly_its_points(name, tmp_path):
    nb = _notebook(name)
    full = _score(grade.grade_notebook(_write(tmp_path, nb)))
    for it in notebook_items(name):
        assert full[it.id] == (None if it.kind == "written" else it.points), it.id
    for it in [i for i in AUTO if i.notebook == name]:
        broken = copy.deepcopy(nb)
        cell = _cell(broken, it.id)
        cell["source"] = _broken("".join(cell["source"]), it)
        got = _score(grade.grade_notebook(_write(tmp_path, broken, f"{it.id}.ipynb")))
        assert got == {**full, it.id: 0}, it.id


def test_check_cells_do_not_count_and_library_calls_score_zero(tmp_path):
    nb = _notebook("02")
    nb["cells"] = [c for c in nb["cells"] if not c["source"] or "check(" not in
                   "".join(c["source"])]  # every check cell deleted
    wap = _cell(nb, "02-wap")
    wap["source"] = ("from scd_lab.lab import weighted_avg_pool\n\n"
                     "def my_weighted_avg_pool(feature_map, weights, eps=1e-6):\n"
                     "    return weighted_avg_pool(feature_map, weights, eps)\n")
    ld = _cell(nb, "02-ld")  # the same through a name the code does not show
    ld["source"] = ("import scd_lab.losses as L\n\n"
                    "def semantic_discrimination(*z):\n"
                    "    return getattr(L, 'semantic_' + 'discrimination_loss')(*z)\n")
    rows = {r.item: r for r in grade.grade_notebook(_write(tmp_path, nb))}
    assert rows["02-wap"].points == 0 and "library's own weighted_avg_pool" in rows["02-wap"].feedback
    assert rows["02-ld"].points == 0 and "library's own" in rows["02-ld"].feedback
    assert rows["02-ema"].points == 3 and rows["02-align"].points == 3  # the others unaffected


def test_hidden_cases_catch_what_the_visible_ones_miss():
    def only_square(f, w, eps=1e-6):  # right on the visible cases, wrong for eps != 1e-6
        return (f * w[:, None]).sum(dim=(2, 3)) / (w.sum(dim=(1, 2))[:, None] + 1e-6)
    it = item("02-wap")
    assert feedback.evaluate(it, only_square).passed
    result = feedback.evaluate(it, only_square, hidden=True)
    assert not result.passed and result.case.startswith("hidden")


def test_an_answer_that_raises_or_loops_is_feedback(tmp_path):
    nb = _notebook("00")
    _cell(nb, "00-cosine")["source"] = "def cosine_matrix(a, b):\n    return a.nope\n"
    _cell(nb, "00-random-std")["source"] = "RANDOM_STD = random_z.std()\n"  # another cell's name
    rows = {r.item: r for r in grade.grade_notebook(_write(tmp_path, nb))}
    assert "raised AttributeError" in rows["00-cosine"].feedback
    assert "NameError" in rows["00-random-std"].feedback and "runs alone" in rows["00-random-std"].feedback
    assert rows["00-byol-sg"].points == 3


def test_release_holds_no_instructor_material(tmp_path):
    written = build.release(tmp_path / "course")
    texts = {p.name: p.read_text() for p in written if p.suffix == ".ipynb"}
    assert {p.name for p in written} - set(texts) == {"README.md"}
    assert set(texts) >= {p.name for p in GRADED}
    answers = [it.model_answer[:40] for it in REGISTRY.values() if it.kind == "written"]
    rubrics = [r[:30] for it in REGISTRY.values() for r in it.rubric]
    forbidden = {n for it in REGISTRY.values() for n in it.forbidden} | {"losses"}
    for name, text in texts.items():
        nb = json.loads(text)
        assert "jupytext" not in nb["metadata"] and nb["metadata"]["scd_lab"]["copy"] == "student"
        assert "BEGIN SOLUTION" not in text and "Model answer" not in text
        assert not [a for a in answers + rubrics if a in text], name
        for cell in nb["cells"]:  # the import cells bring in no reference implementation
            if cell["cell_type"] == "code" and "import" in cell["source"]:
                for node in ast.walk(ast.parse(cell["source"])):
                    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("scd_lab"):
                        assert not {a.name for a in node.names} & forbidden, (name, cell["source"])
    assert not list((tmp_path / "course").glob("*rubric*"))
    with pytest.raises(UserError, match="inside the tracked notebooks/"):
        build.release(REPO / "notebooks" / "students")


def test_instructor_material_has_every_answer_and_rubric(tmp_path):
    build.instructor(tmp_path)
    rubrics = (tmp_path / "rubrics.md").read_text()
    assert all(it.id in rubrics for it in REGISTRY.values())
    assert item("09-baselines").model_answer[:40] in rubrics
    src = (tmp_path / "source" / "02_losses_from_scratch" / "02_losses_from_scratch.ipynb")
    assert "BEGIN SOLUTION" in src.read_text() and "Model answer" in src.read_text()
    assert (tmp_path / "syllabus.md").is_file() and (tmp_path / "troubleshooting.md").is_file()


def test_not_a_notebook_or_not_the_kits_is_one_line(tmp_path):
    (tmp_path / "a.ipynb").write_text("not json")
    with pytest.raises(UserError, match="is not a notebook"):
        grade.grade([tmp_path / "a.ipynb"])
    other = _write(tmp_path, {"cells": [], "metadata": {}}, "other.ipynb")
    with pytest.raises(UserError, match="not one of the kit's notebooks"):
        grade.grade([other])


def test_the_numeric_answers_come_from_shipped_files():
    for it in [i for i in REGISTRY.values() if i.kind == "numeric"]:
        value = it.expected()
        assert isinstance(value, (int, float)) and torch.isfinite(torch.tensor(float(value)))


def test_an_answer_that_never_returns_is_stopped(monkeypatch):
    monkeypatch.setattr(grade, "TIME_LIMIT_S", 1)
    looping = "def cosine_matrix(a, b):\n    while True:\n        pass\n"
    result = grade.grade_item(item("00-cosine"), looping)
    assert result.points == 0 and "TimeoutError" in result.what


def test_a_helper_of_ones_own_may_share_a_library_name():
    mine = "def auroc(s, y):\n    return 0.5\n\ndef pixel_auroc(s, y):\n    return auroc(s, y)\n"
    assert feedback.library_calls(mine, ("auroc",)) == []
    theirs = "from scd_lab.lab import auroc\n\ndef pixel_auroc(s, y):\n    return auroc(s[None], y[None])\n"
    assert feedback.library_calls(theirs, ("auroc",)) == ["auroc"]
    assert feedback.library_calls("x = m.auroc(a, b)\n", ("auroc",)) == ["auroc"]


def test_a_flipped_sign_is_named_on_any_function_item():
    """Items list their own common mistakes; a negated answer is recognised on every one."""
    from scd_lab.studies.course.feedback import evaluate
    from scd_lab.studies.course.registry import item
    wap = item("02-wap")
    res = evaluate(wap, lambda f, w, eps=1e-6: -wap.reference(f, w, eps))
    assert not res.passed and "flipped sign" in res.mistake
    assert "flipped sign" not in evaluate(wap, lambda f, w, eps=1e-6: 2 * wap.reference(f, w, eps)).mistake

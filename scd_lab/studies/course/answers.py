"""The numeric and the written items of every notebook. A numeric answer is read from a run, a
table or a figure the notebook shows; the expected value is read here from the same shipped
file (``scd_lab/shipped/``) or computed from the same table, never from a fresh training. A
written answer is graded by hand, with the model answer and the rubric below (the instructor
copy prints them; the student release does not)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ...paths import reference_runs_dir
from ...rundir import RunDir
from .items import Item


def _summary(run: str, key: str):
    return lambda: float(RunDir(reference_runs_dir() / run).summary()[key])


def _random_std() -> float:
    z = torch.randn(1000, 256, generator=torch.Generator().manual_seed(0))
    return float(F.normalize(z, dim=1).std(dim=0).mean())


def num(item_id: str, points: int, title: str, name: str, expected, tol: float, source: str,
        hints: tuple[str, ...]) -> Item:
    return Item(item_id, item_id[:2], "numeric", points, title, name=name, expected=expected,
                tol=tol, source=source, hints=hints)


def written(item_id: str, points: int, title: str, model_answer: str,
            rubric: tuple[str, ...]) -> Item:
    return Item(item_id, item_id[:2], "written", points, title, model_answer=model_answer,
                rubric=rubric)


ITEMS = (
    # --- 00, the primer --------------------------------------------------------------------
    num("00-random-std", 1, "the collapse monitor on random directions", "RANDOM_STD",
        _random_std, 0.003, "embedding_std of the notebook's 1,000 random 256-d vectors (seed 0)",
        ("Random directions are far from collapse: each coordinate of a unit vector in d "
         "dimensions varies around 0 with a spread that shrinks as d grows.",
         "For unit vectors spread evenly, each coordinate's standard deviation is about "
         "1/sqrt(d).")),
    num("00-ema-halflife", 1, "how slowly an EMA target forgets", "HALF_LIFE",
        lambda: math.ceil(math.log(0.5) / math.log(0.99)), 0.5,
        "the smallest n with m^n < 1/2 at m = 0.99",
        ("After n updates the target keeps the share m^n of its starting weights.",
         "Solve m^n < 1/2 for the smallest whole n: n > log(1/2) / log(m).")),
    written("00-contrastive", 3, "what stops collapse, with and without negatives",
            "A contrastive loss (InfoNCE, MoCo) has negatives: each view must match its positive "
            "better than the other images' keys. If every image got the same embedding, all "
            "logits would be equal and the loss would stay at log(1 + K): collapse is punished "
            "by the loss itself. BYOL has no negatives: a constant output makes its loss 0, so "
            "nothing in the loss forbids collapse. It does not collapse in practice because of "
            "the asymmetry of the training: a predictor on the online side only, a stop-gradient "
            "on the target, and a target that is a slow EMA of the online network.",
            ("1 pt: negatives make a collapsed embedding costly (equal logits, loss log(1+K)).",
             "1 pt: BYOL's loss is minimal at a collapsed (constant) embedding.",
             "1 pt: predictor + stop-gradient + EMA target named as what avoids it, not the loss.")),
    written("00-saliency-score", 2, "pooled against per-image AUROC",
            "Each map splits its own image well (per-image unsigned AUROC 0.9: most maps rank "
            "one side above the other), but the side it marks changes from image to image: in "
            "some the object is bright, in others the background. Pooled over images the two "
            "kinds cancel and the AUROC falls to 0.5. The map has no fixed polarity.",
            ("1 pt: each image's map separates object from background.",
             "1 pt: the polarity changes between images, so the pooled votes cancel.")),
    # --- 02 ------------------------------------------------------------------------------------
    written("02-margin-cff", 3, "the foreground hinge when the foregrounds agree",
            "With c_ff = 1 the foreground term is max(c_fb - 1 + alpha, 0): it is active while "
            "c_fb > 1 - alpha, so at the default alpha = 1 whenever c_fb > 0. The loss asks the "
            "online foreground to be orthogonal to, or point away from, the target background: "
            "the background embedding must not resemble the object's at all.",
            ("1 pt: the condition c_fb > 1 - alpha.", "1 pt: c_fb > 0 at alpha = 1.",
             "1 pt: the background must point away from (or be orthogonal to) the foreground.")),
    written("02-bg-term", 2, "switching the background term off",
            "Only the foreground hinge is left: it is 0 once cos(fg1, fg2) - cos(fg1, bg2) >= "
            "alpha. Nothing asks the background to agree between the two views any more, so any "
            "map whose background pooling lands far from the foreground is a solution: a "
            "background that differs between views, or one that is the same for every image. "
            "The discrimination becomes one-sided (the paper's Table 3 finds both terms help).",
            ("1 pt: the remaining condition (fg agreement beats fg-bg similarity by alpha).",
             "1 pt: a degenerate solution: the background need not be consistent across views.")),
    # --- 05 ------------------------------------------------------------------------------------
    num("05-scd-end", 2, "SCD's map at the end of the demo run", "SCD_END_AUROC",
        _summary("demo-scd-byol", "scd_fg/auroc"), 0.005,
        "the summary cell's last AUROC of scd_fg for the demo's SCD-BYOL reference run",
        ("The summary cell prints, for each run, its map's AUROC at the first and at the last "
         "epoch.", "Read the number after the arrow on the scd-byol line, to three decimals.")),
    num("05-scd-init", 2, "SCD's map before training", "SCD_INIT_AUROC",
        _summary("demo-scd-byol", "scd_fg/auroc_init"), 0.005,
        "scd_fg's AUROC at step 0 of the demo's SCD-BYOL reference run",
        ("The untrained network already has a map: the explorer's first epoch shows it.",
         "Read the AUROC at the first epoch on the scd-byol line of the summary cell.")),
    written("05-inverted", 2, "what an AUROC of 0.35 means",
            "A map with AUROC 0.35 ranks a background pixel above an object pixel 65% of the "
            "time: it marks the background. Its complement 1 - map has AUROC 0.65 (without "
            "ties, AUROC(1 - s) = 1 - AUROC(s)), so flipping the polarity makes it look right "
            "when the map is inverted in the same way on every image.",
            ("1 pt: 1 - map scores 0.65.", "1 pt: the map marks the background (inverted).")),
    # --- 06 ------------------------------------------------------------------------------------
    num("06-lambda-gap", 2, "how many standard errors between lambda = 0 and 0.5", "LAMBDA_GAP_SE",
        lambda: (0.540 - 0.470) / math.sqrt(0.004 ** 2 + 0.006 ** 2), 0.3,
        "the notebook's CPU-tier table: lambda = 0 at 0.470 +- 0.006, lambda = 0.5 at 0.540 +- 0.004",
        ("Two means each with a standard error: the difference has its own standard error, from "
         "both.", "gap in se = |a - b| / sqrt(se_a^2 + se_b^2).")),
    written("06-alpha-drop", 2, "why alpha >= 0.6 gives identical runs",
            "In 186 steps the foreground hinge stays active for every sample (the cosine gaps "
            "are far below 0.6). An active hinge's gradient does not depend on alpha: alpha only "
            "adds a constant alpha/2 to the loss. So every alpha >= 0.6 gives the same updates "
            "and the same runs; alpha can only matter once training separates fg from bg by "
            "more than alpha.",
            ("1 pt: the hinge is active for every sample.",
             "1 pt: the gradient of an active hinge does not depend on alpha (a constant shift).")),
    # --- 07 ------------------------------------------------------------------------------------
    num("07-distinct-zeros", 2, "SCD's map on distinct textures with zero padding",
        "DISTINCT_ZEROS_AUROC", _summary("distinct-zeros", "scd_fg/auroc"), 0.005,
        "section 1's table, distinct-zeros, scd_fg at the end",
        ("Section 1's table has one row per reference run; the column 'at the end' is the "
         "map's AUROC after training.", "Read the distinct-zeros row; below 0.5 means inverted.")),
    written("07-claim", 3, "does SCD's map find the object here?",
            "Not on the kit's data at the CPU tier. The demo's SCD-BYOL map ends at 0.579, the "
            "same as the channel-sum map of the same network (0.579) that no head was trained "
            "for, and below the centre prior; on distinct textures with zero padding it ends "
            "inverted (0.359). One seed per run and a CPU budget: this says nothing about "
            "ImageNet after 200 epochs, only how to check it.",
            ("1 pt: the conclusion (no, at this tier).",
             "1 pt: a baseline of the same network compared with numbers.",
             "1 pt: the limits (one seed, CPU tier, not ImageNet).")),
    # --- 08 ------------------------------------------------------------------------------------
    written("08-fg-vs-gap", 2, "foreground-pooled against GAP features",
            "Report both probe accuracies with their standard errors over the probe seeds and "
            "call the difference real only if it exceeds about twice the standard error of the "
            "difference. At the CPU tier the two are within a few points and usually within the "
            "noise; the paper's Table 8 (ImageNet, 200 epochs) is not reproduced or refuted by "
            "it.",
            ("1 pt: both numbers with their standard errors.",
             "1 pt: the difference judged against the noise (about 2 se of the difference).")),
    # --- 09, the challenge ---------------------------------------------------------------------
    written("09-baselines", 4, "the score against the same run's baselines and ceiling",
            "Example with the shipped distinct-reflect-alpha0 run: score 0.628 against channel "
            "sum 0.568 and init map 0.502 of the same run, so SCD's net adds about 0.06 over the "
            "free maps; the centre prior (0.704) still beats it. The ceiling on the same "
            "features is 0.763: the features carry the object, and the 0.135 gap is in the map "
            "(SCD did not use what the features hold), not in the features.",
            ("1 pt: compared with the channel-sum and init maps of the same run, with numbers.",
             "1 pt: compared with the centre prior.",
             "1 pt: the gap to the run's own ceiling, computed.",
             "1 pt: the gap attributed correctly (map vs features) from the ceiling's level.")),
    written("09-polarity", 3, "polarity, and why the margin sits on the foreground",
            "Read the pooled AUROC beside the per-image unsigned one: a high per-image figure "
            "with a pooled one near 0.5 means the polarity changes between images; a pooled "
            "figure below 0.5 means inverted. With alpha = 0 the two hinges are the same "
            "expression with fg and bg swapped; the margin on the foreground term is the only "
            "thing that tells them apart. It makes the side whose embeddings agree best across "
            "the two views the 'foreground', which need not be the object (a border, the centre, "
            "a texture).",
            ("1 pt: pooled vs per-image read correctly for the student's run.",
             "1 pt: the fg/bg symmetry at alpha = 0 and the margin as what breaks it.",
             "1 pt: the prediction: the most view-consistent region becomes fg, object or not.")),
    written("09-seed", 3, "does the ranking survive another seed?",
            "Train the best config again with another train.seed and report both scores. The "
            "reference runs show one config ending at 0.526 and 0.665 on two seeds: a spread of "
            "0.14, larger than most differences between configs. A ranking of tries that differ "
            "by less than the seed-to-seed spread is not evidence; say so, and report mean and "
            "spread when there are several seeds.",
            ("1 pt: a second seed trained and both scores reported.",
             "1 pt: the seed-to-seed spread compared with the gaps between tries.",
             "1 pt: a conclusion that does not outrun the evidence.")),
)

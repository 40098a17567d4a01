"""The primer's function items (notebook 00): cosine similarities, the collapse monitor, BYOL's
loss with a stop-gradient, and the AUROC of a saliency map."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ...eval.saliency_metrics import auroc
from .items import Case, Item, Mistake


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# --- cosine similarity matrix ----------------------------------------------------------------

def _cosine(a, b):
    return F.normalize(a, dim=1) @ F.normalize(b, dim=1).t()


def _cos_case(label: str, seed: int, n: int, m: int, d: int, scale: float = 1.0) -> Case:
    def args():
        g = _gen(seed)
        return torch.randn(n, d, generator=g) * scale, torch.randn(m, d, generator=g)
    return Case(label, args)


COSINE = Item(
    "00-cosine", "00", "function", 2, "the matrix of cosine similarities", name="cosine_matrix",
    hints=("A cosine similarity compares directions only: the length of each vector must not "
           "matter. Compare every row of the first batch with every row of the second.",
           "cos(a_i, b_j) = a_i . b_j / (||a_i|| ||b_j||): divide each row by its own norm, then "
           "take all the dot products at once (an N x M matrix)."),
    reference=_cosine,
    visible=(_cos_case("4 x 3 random", 0, 4, 3, 5),),
    hidden=(_cos_case("hidden: long vectors (norm about 100)", 10, 3, 6, 8, scale=100.0),
            _cos_case("hidden: one row against itself", 11, 1, 1, 4)),
    mistakes=(Mistake("no normalisation: these are dot products, not cosines",
                      lambda a, b: a @ b.t()),
              Mistake("each column was normalised instead of each row (normalise over the "
                      "feature dimension)",
                      lambda a, b: F.normalize(a, dim=0) @ F.normalize(b, dim=0).t())))


# --- the collapse monitor ----------------------------------------------------------------------

def _std(z):
    return F.normalize(z, dim=1).std(dim=0).mean()


def _std_case(label: str, seed: int, n: int, d: int, collapsed: bool = False) -> Case:
    def args():
        z = torch.randn(n, d, generator=_gen(seed))
        return (z[:1].repeat(n, 1) * 3.0 if collapsed else z,)
    return Case(label, args)


STD = Item(
    "00-collapse-std", "00", "function", 2, "the collapse monitor", name="embedding_std",
    hints=("A collapsed network gives every image the same embedding, so the embeddings do not "
           "vary across the batch. Measure how much each dimension varies, on unit-length "
           "embeddings so that their scale does not count.",
           "std = mean over the d dimensions of the standard deviation over the batch of z/||z||; "
           "0 when collapsed, about 1/sqrt(d) for random directions."),
    reference=_std,
    visible=(_std_case("random batch", 1, 64, 16), _std_case("collapsed batch", 1, 8, 16, True)),
    hidden=(_std_case("hidden: wide embeddings", 12, 32, 128),
            _std_case("hidden: a scaled collapsed batch", 13, 5, 4, True)),
    mistakes=(Mistake("no normalisation: the embeddings' scale changes the figure",
                      lambda z: z.std(dim=0).mean()),
              Mistake("the spread is taken over the dimensions of each embedding, not over the "
                      "batch", lambda z: F.normalize(z, dim=1).std(dim=1).mean())))


# --- BYOL's loss with a stop-gradient ------------------------------------------------------------

def _byol_sg(p, z):
    return (2 - 2 * F.cosine_similarity(p, z.detach(), dim=1)).mean()


def _sg_output(fn, args):
    p, z = (a.clone().requires_grad_(True) for a in args)
    loss = fn(p, z)
    loss.backward()
    zg = torch.zeros_like(z) if z.grad is None else z.grad
    return loss.detach(), zg  # the loss and the gradient that reached the target (zero)


def _sg_case(label: str, seed: int, n: int, d: int) -> Case:
    return Case(label, lambda: (torch.randn(n, d, generator=_gen(seed)),
                                torch.randn(n, d, generator=_gen(seed + 100))), output=_sg_output)


BYOL_SG = Item(
    "00-byol-sg", "00", "function", 3, "BYOL's loss with a stop-gradient", name="byol_loss_sg",
    hints=("BYOL pulls the prediction towards the target's embedding, never the other way: the "
           "target is treated as a constant, so no gradient reaches it. The loss only cares "
           "about directions.",
           "loss = mean over the batch of 2 - 2 cos(p, sg(z)), where sg is the stop-gradient "
           "(torch's detach)."),
    reference=_byol_sg,
    visible=(_sg_case("batch of 4", 2, 4, 8),),
    hidden=(_sg_case("hidden: batch of 1", 14, 1, 3), _sg_case("hidden: batch of 16", 15, 16, 32)),
    mistakes=(Mistake("the gradient reaches the target: the stop-gradient (detach) on z is missing",
                      lambda p, z: (2 - 2 * F.cosine_similarity(p, z, dim=1)).mean()),
              Mistake("the sign is flipped: minimising 2 cos - 2 pushes the views apart",
                      lambda p, z: (2 * F.cosine_similarity(p, z.detach(), dim=1) - 2).mean()),
              Mistake("no normalisation: ||p - z||^2 of the raw vectors, not 2 - 2 cos",
                      lambda p, z: (p - z.detach()).pow(2).sum(1).mean())))


# --- the AUROC of a saliency map ------------------------------------------------------------------

def _pixel_auroc(saliency, mask):
    return auroc(saliency[None].double(), mask[None])


def _auroc_strict(saliency, mask):
    s, y = saliency.flatten(), mask.flatten().bool()
    return float((s[y][:, None] > s[~y][None]).double().mean())


def _au_case(label: str, seed: int, h: int, w: int, levels: int = 0, kind: str = "") -> Case:
    def args():
        g = _gen(seed)
        mask = (torch.rand(h, w, generator=g) < 0.4).float()
        mask.view(-1)[:2] = torch.tensor([0.0, 1.0])  # both classes present
        s = torch.rand(h, w, generator=g) + 0.5 * mask
        if levels:
            s = (s * levels).floor() / levels  # ties between pixels
        s = {"perfect": mask.clone(), "constant": torch.ones(h, w)}.get(kind, s)
        return s, mask
    return Case(label, args)


AUROC = Item(
    "00-pixel-auroc", "00", "function", 3, "the AUROC of a saliency map", name="pixel_auroc",
    hints=("Treat every pixel as a vote: the AUROC is the chance that a random object pixel "
           "scores higher than a random background pixel. 0.5 is chance; below 0.5 the map marks "
           "the background. A tie counts as half a win.",
           "AUROC = mean over all (object pixel i, background pixel j) pairs of [s_i > s_j] + "
           "1/2 [s_i = s_j]."),
    reference=_pixel_auroc, forbidden=("auroc", "roc_auc_score", "per_image_aurocs"), atol=1e-6,
    visible=(_au_case("a 6 x 6 map", 3, 6, 6), _au_case("a map with ties", 3, 6, 6, levels=4)),
    hidden=(_au_case("hidden: a perfect map", 16, 5, 7, kind="perfect"),
            _au_case("hidden: a constant map", 17, 4, 4, kind="constant"),
            _au_case("hidden: many ties", 18, 8, 8, levels=2)),
    mistakes=(Mistake("the polarity is flipped: this is the chance that a background pixel scores "
                      "higher", lambda s, y: 1 - _pixel_auroc(s, y)),
              Mistake("ties count as losses: a tie is half a win", _auroc_strict)))

ITEMS = (COSINE, STD, BYOL_SG, AUROC)

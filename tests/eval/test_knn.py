"""Weighted kNN classifier (``scd_lab.eval.knn``) against a slow loop reference and hand values."""
from __future__ import annotations

import math

import pytest
import torch

from scd_lab.eval.knn import knn_accuracy, knn_predict


def reference_scores(queries, bank, bank_labels, num_classes, k, tau):
    """Slow, loop-by-loop float64 version of the documented rule: score[c] = sum over the k
    most cosine-similar bank vectors n with label c of exp((cos - cos_max) / tau)."""
    queries = queries.double().tolist()
    bank = bank.double().tolist()
    labels = [int(c) for c in bank_labels.tolist()]

    def unit(v):
        norm = math.sqrt(sum(x * x for x in v))
        return [x / norm for x in v]

    bank_unit = [unit(b) for b in bank]
    out = []
    for q in queries:
        qu = unit(q)
        sims = [(sum(a * b for a, b in zip(qu, bu)), j) for j, bu in enumerate(bank_unit)]
        sims.sort(key=lambda t: t[0], reverse=True)
        row = [0.0] * num_classes
        for sim, j in sims[:k]:
            row[labels[j]] += math.exp((sim - sims[0][0]) / tau)
        out.append(row)
    return torch.tensor(out, dtype=torch.float64)


def _random_problem(seed, num_queries=10, bank_size=12, dim=6, num_classes=4):
    g = torch.Generator().manual_seed(seed)
    queries = torch.randn(num_queries, dim, generator=g)
    bank = torch.randn(bank_size, dim, generator=g)
    labels = torch.randint(0, num_classes, (bank_size,), generator=g)
    return queries, bank, labels


@pytest.mark.parametrize("k", [1, 3, 5, 12, 50])  # 12 == bank size, 50 > bank size
@pytest.mark.parametrize("tau", [0.07, 0.2, 1.0])
@pytest.mark.parametrize("chunk", [3, 1024])  # 3 < 10 queries: several chunks, last one short
def test_matches_loop_reference(k, tau, chunk):
    queries, bank, labels = _random_problem(seed=k * 1000 + int(tau * 100))
    got = knn_predict(queries, bank, labels, num_classes=4, k=k, tau=tau, chunk=chunk)
    want = reference_scores(queries, bank, labels, 4, k, tau)
    assert got.shape == (10, 4)
    # float32 computation vs float64 reference: cos has ~1e-7 error, divided by tau <= 1/0.07.
    assert torch.allclose(got.double(), want, rtol=1e-4, atol=1e-6), (got, want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_input_dtype_does_not_matter(dtype):
    queries, bank, labels = _random_problem(seed=7)
    got = knn_predict(queries.to(dtype), bank.to(dtype), labels, num_classes=4, k=4, tau=0.1,
                      chunk=4)
    want = reference_scores(queries.double(), bank.double(), labels, 4, 4, 0.1)
    assert torch.allclose(got.double(), want, rtol=1e-4, atol=1e-6)


def test_chunking_does_not_change_scores():
    queries, bank, labels = _random_problem(seed=3, num_queries=11)
    full = knn_predict(queries, bank, labels, 4, k=5, tau=0.1, chunk=1024)
    for chunk in (1, 2, 4, 10, 11):
        assert torch.allclose(knn_predict(queries, bank, labels, 4, k=5, tau=0.1, chunk=chunk),
                              full, rtol=1e-5, atol=0)


def test_hand_computed_scores():
    # Bank (label):  b0 = ( 1, 0) (0)   b1 = (0, 1) (1)   b2 = (1, 1) (1)   b3 = (-1, 0) (0)
    # q0 = (2, 0):  cos = b0: 1, b1: 0, b2: 1/sqrt(2), b3: -1
    # q1 = (0, 3):  cos = b0: 0, b1: 1, b2: 1/sqrt(2), b3:  0
    # tau = 0.5 so each neighbour weighs exp(2 * cos); both queries' nearest cosine is 1, so
    # every score is divided by e^2 (the documented per-query factor exp(cos_max / tau)).
    # k = 2:  q0 -> b0, b2: class 0 = e^2,            class 1 = e^sqrt(2)
    #         q1 -> b1, b2: class 0 = 0,              class 1 = e^2 + e^sqrt(2)
    # k = 3:  q0 adds b1 (cos 0, weight 1) to class 1: class 1 = e^sqrt(2) + 1
    # k = 4:  q0 adds b3 (cos -1, weight e^-2) to class 0: class 0 = e^2 + e^-2
    #         q1 adds b0 and b3 (cos 0, weight 1 each) to class 0: class 0 = 2
    bank = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 0])
    queries = torch.tensor([[2.0, 0.0], [0.0, 3.0]])
    e2, er2 = 1.0, math.exp(math.sqrt(2.0) - 2.0)  # e^2, e^sqrt(2) divided by e^2

    k2 = knn_predict(queries, bank, labels, num_classes=2, k=2, tau=0.5)
    assert torch.allclose(k2, torch.tensor([[e2, er2], [0.0, e2 + er2]]), rtol=1e-6)

    k3 = knn_predict(queries, bank, labels, num_classes=2, k=3, tau=0.5)
    assert torch.allclose(k3[0], torch.tensor([e2, er2 + math.exp(-2.0)]), rtol=1e-6)

    k4 = knn_predict(queries, bank, labels, num_classes=2, k=4, tau=0.5)
    assert torch.allclose(k4, torch.tensor([[e2 + math.exp(-4.0), er2 + math.exp(-2.0)],
                                            [2.0 * math.exp(-2.0), e2 + er2]]), rtol=1e-6)
    # Extra (unused) classes get exactly zero.
    k4c = knn_predict(queries, bank, labels, num_classes=5, k=4, tau=0.5)
    assert torch.equal(k4c[:, 2:], torch.zeros(2, 3))
    assert torch.allclose(k4c[:, :2], k4, rtol=1e-6)


def test_separable_features_give_accuracy_one():
    g = torch.Generator().manual_seed(0)
    num_classes, dim = 5, 16
    centers = torch.eye(dim)[:num_classes] * 10.0

    def sample(n):
        y = torch.arange(n) % num_classes
        return centers[y] + 0.1 * torch.randn(n, dim, generator=g), y

    bank, bank_y = sample(50)
    queries, query_y = sample(23)
    for k in (1, 5, 20, 200):
        assert knn_accuracy(queries, query_y, bank, bank_y, num_classes, k=k, tau=0.07) == 1.0
    # Same features with half of the query labels shifted: exactly those are wrong.
    wrong = query_y.clone()
    wrong[::2] = (wrong[::2] + 1) % num_classes
    acc = knn_accuracy(queries, wrong, bank, bank_y, num_classes, k=5, tau=0.07)
    assert acc == pytest.approx(11 / 23)


def test_k1_is_nearest_neighbour():
    queries, bank, labels = _random_problem(seed=11, num_queries=20, bank_size=15)
    scores = knn_predict(queries, bank, labels, num_classes=4, k=1, tau=0.1)
    cos = torch.nn.functional.cosine_similarity(queries[:, None], bank[None], dim=2)
    best = cos.argmax(1)
    # Exactly one class gets a vote: the nearest neighbour's, with weight
    # exp((max cos - max cos) / tau) = 1.
    assert torch.equal((scores > 0).sum(1), torch.ones(20, dtype=torch.long))
    assert torch.equal(scores.argmax(1), labels[best])
    assert torch.equal(scores.max(1).values, torch.ones(20))
    acc = knn_accuracy(queries, labels[best], bank, labels, num_classes=4, k=1, tau=0.1)
    assert acc == 1.0


def test_far_neighbours_can_outvote_the_nearest():
    # Nearest neighbour is class 0 (cos 1); the next two are class 1 (cos 0.95/sqrt(0.9986)
    # = 0.9507 each).
    bank = torch.tensor([[1.0, 0.0], [0.95, 0.31], [0.95, -0.31], [-1.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 0])
    q = torch.tensor([[1.0, 0.0]])
    assert knn_predict(q, bank, labels, 2, k=1, tau=1.0).argmax(1).item() == 0
    # tau = 1: e^1 = 2.72 vs 2 e^0.9507 = 5.17 -> class 1 wins.
    assert knn_predict(q, bank, labels, 2, k=3, tau=1.0).argmax(1).item() == 1
    # tau = 0.02: e^50 vs 2 e^47.53 = e^48.23 -> the nearest dominates, class 0 wins.
    assert knn_predict(q, bank, labels, 2, k=3, tau=0.02).argmax(1).item() == 0


def test_ties():
    # Two identical bank vectors with different labels: both at cos 1 from the query.
    bank = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 1, 2])
    q = torch.tensor([[3.0, 0.0]])
    w = 1.0  # exp((1 - 1) / 0.1): both at the largest cosine
    both = knn_predict(q, bank, labels, 3, k=2, tau=0.1)
    assert torch.allclose(both, torch.tensor([[w, w, 0.0]]), rtol=1e-6)
    # k = 1: exactly one of the tied classes gets the single vote.
    one = knn_predict(q, bank, labels, 3, k=1, tau=0.1)[0]
    assert one[2] == 0.0
    assert sorted(one[:2].tolist()) == pytest.approx([0.0, w], rel=1e-6)
    # A zero query is equally similar (cos 0) to everything: with k >= N each neighbour weighs 1,
    # so the scores are the class counts.
    bank4 = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 2.0]])
    zero = knn_predict(torch.zeros(1, 2), bank4, torch.tensor([0, 1, 1, 1]), 2, k=10, tau=0.1)
    assert torch.allclose(zero, torch.tensor([[1.0, 3.0]]))


def test_scores_invariant_to_feature_scale():
    queries, bank, labels = _random_problem(seed=5)
    g = torch.Generator().manual_seed(1)
    base = knn_predict(queries, bank, labels, 4, k=5, tau=0.1)
    scaled = knn_predict(queries * 37.0, bank * 0.01, labels, 4, k=5, tau=0.1)
    assert torch.allclose(scaled, base, rtol=1e-5)
    # Per-vector positive scales too (cosine normalises each row).
    row_q = torch.rand(10, 1, generator=g) * 10 + 0.1
    row_b = torch.rand(12, 1, generator=g) * 10 + 0.1
    per_row = knn_predict(queries * row_q, bank * row_b, labels, 4, k=5, tau=0.1)
    assert torch.allclose(per_row, base, rtol=1e-5)
    # ...but flipping the sign of the queries does change them (so the test can fail).
    flipped = knn_predict(-queries, bank, labels, 4, k=5, tau=0.1)
    assert not torch.allclose(flipped, base, rtol=1e-3)


def test_monitor_bank_and_queries_are_disjoint_by_construction():
    """The kNN bank is drawn from the training split and the queries are the held-out split:
    no query image is in the bank (checked image by image), and the bank has no repeats."""
    import hashlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parents[1] / "train"))
    from helpers import tiny_config, tiny_data

    from scd_lab.runs import monitor_sets

    train, test = tiny_data(n_train=64, n_test=32)
    sets = monitor_sets(tiny_config("byol", ["train.knn_bank_size=48"]), train, test)

    def digests(images):
        return [hashlib.sha1(im.numpy().tobytes()).hexdigest() for im in images]

    bank, queries = digests(sets["bank"].images), digests(sets["queries"].images)
    assert len(bank) == 48 and len(set(bank)) == 48  # a subset, drawn without replacement
    assert set(bank) <= set(digests(train.images))
    assert not set(bank) & set(queries) and set(queries) <= set(digests(test.images))


def test_tiny_temperature_stays_finite_and_ranks_like_the_float64_rule():
    # exp(1 / tau) overflows fp32 for tau < 1 / 88.7: the votes must stay finite and pick the
    # class the float64 rule picks. q is nearer b0 (class 0, cos 1) than b1, b2 (class 1, cos
    # 0.9): class 1 gets 2 e^{-0.1 / tau} = 2 e^{-10} at tau = 0.01, class 0 gets 1.
    bank = torch.tensor([[1.0, 0.0], [0.9, 0.43589], [0.9, 0.43589]])  # cos 1, 0.9, 0.9
    labels = torch.tensor([0, 1, 1])
    q = torch.tensor([[1.0, 0.0]])
    for tau in (0.01, 0.005, 0.001):
        scores = knn_predict(q, bank, labels, 2, k=3, tau=tau)
        assert torch.isfinite(scores).all(), tau
        assert scores.argmax(1).item() == 0
        want = reference_scores(q, bank, labels, 2, 3, tau)
        assert torch.allclose(scores.double(), want, rtol=1e-4, atol=1e-30)
    assert knn_accuracy(q, torch.tensor([0]), bank, labels, 2, k=3, tau=0.001) == 1.0

import argparse
import os

import torch

from scd_lab.data import build_datasets
from scd_lab.cli.data import register
from scd_lab.data.imagenet100 import build_in100, load_class_list, load_compact

MINS = {"train": 3, "val": 2}


def test_class_list_is_the_cmc_list():
    wnids = load_class_list()
    assert len(wnids) == 100 == len(set(wnids)) and all(w.startswith("n") for w in wnids)
    assert wnids[0] == "n02869837"


def test_builder_on_fake_imagenet(fake_imagenet, tmp_path):
    root, wnids = fake_imagenet
    out = tmp_path / "in100"
    rep = build_in100(root, out, classes=wnids, min_counts=MINS)
    assert rep.missing == {"train": [wnids[1]], "val": [wnids[1]]}
    assert rep.short == [("train", wnids[2], 1, 3)]
    assert rep.counts["train"] == {wnids[0]: 4, wnids[1]: 0, wnids[2]: 1, wnids[3]: 6}
    assert rep.skipped == {"train": 1, "val": 1} and not rep.ok
    text = str(rep)
    assert f"MISSING in train: {wnids[1]}" in text and f"SHORT in train: {wnids[2]}" in text
    links = sorted((out / "train" / wnids[0]).iterdir())
    assert len(links) == 4 and all(p.is_symlink() for p in links)
    assert not (out / "train" / "n09999999").exists() and not (out / "train" / wnids[1]).exists()
    assert not (out / "train" / wnids[3] / "README.txt").exists()
    # Running again is harmless.
    assert build_in100(root, out, classes=wnids, min_counts=MINS).counts == rep.counts


def test_copy_and_compact_arrays(fake_imagenet, tmp_path):
    root, wnids = fake_imagenet
    out = tmp_path / "in100"
    rep = build_in100(root, out, mode="copy", resize=8, classes=wnids, min_counts=MINS)
    assert not any(p.is_symlink() for p in (out / "train" / wnids[0]).iterdir())
    assert rep.unreadable == {"train": 2, "val": 2}  # truncated + garbage, in each split
    train, val = load_compact(out, 8)
    assert train.images.shape == (4 + 1 + 4, 3, 8, 8) and len(val) == 2 + 2 + 2
    assert train.class_names == [wnids[0], wnids[2], wnids[3]]
    assert torch.bincount(train.labels).tolist() == [4, 1, 4]
    assert torch.equal(build_datasets("imagenet100", 8, root=str(out))[1].labels, val.labels)


def test_cli_in100_and_synthetic(fake_imagenet, tmp_path, capsys, monkeypatch):
    import scd_lab.data.imagenet100 as in100

    root, wnids = fake_imagenet
    monkeypatch.setattr(in100, "load_class_list", lambda: wnids)
    monkeypatch.setattr(in100, "MIN_COUNTS", MINS)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "in100", "--imagenet-root", str(root),
                              "--out", str(tmp_path / "o"), "--mode", "copy"])
    assert args.fn(args) == 1  # incomplete: missing and short classes
    out = capsys.readouterr().out
    assert "MISSING in train: n00000002" in out and "SHORT" in out
    args = parser.parse_args(["data", "synthetic", "--split", "easy", "--set", "num_train=6",
                              "--set", "num_test=2", "--set", "image_size=16",
                              "--cache-dir", str(tmp_path / "c"),
                              "--gallery", str(tmp_path / "g.png")])
    assert args.fn(args) == 0
    assert (tmp_path / "g.png").exists() and "train 6, test 2" in capsys.readouterr().out
    assert os.listdir(tmp_path / "c" / "synthetic")

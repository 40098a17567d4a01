import pytest
import torch

from scd_lab.data.arrays import ImageArray


def make(n=5, masks=True):
    g = torch.Generator().manual_seed(0)
    return ImageArray(torch.randint(0, 256, (n, 3, 4, 4), dtype=torch.uint8, generator=g),
                      torch.arange(n), (torch.rand(n, 4, 4, generator=g) < 0.5).to(torch.uint8)
                      if masks else None, ["a", "b", "c", "d", "e"])


def test_save_load_round_trip(tmp_path):
    for masks in (True, False):
        a = make(masks=masks)
        a.save(tmp_path / "x.pt")
        b = ImageArray.load(tmp_path / "x.pt")
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
        assert (b.masks is None) if not masks else torch.equal(a.masks, b.masks)
        assert b.class_names == a.class_names
        torch.load(tmp_path / "x.pt", weights_only=True)  # plain tensors and lists only


def test_subset_len_to():
    a = make()
    s = a.subset([4, 0])
    assert len(s) == 2 and s.labels.tolist() == [4, 0] and torch.equal(s.masks[1], a.masks[0])
    assert len(a.subset(slice(1, 3))) == 2 and len(a.subset(torch.tensor([1]))) == 1
    assert a.to("cpu").images.dtype == torch.uint8 and a.num_classes == 5


def test_validation():
    with pytest.raises(ValueError, match="uint8"):
        ImageArray(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="masks"):
        ImageArray(torch.zeros(2, 3, 4, 4, dtype=torch.uint8), torch.zeros(2, dtype=torch.long),
                   torch.zeros(2, 5, 4, dtype=torch.uint8))

"""The training step (views -> forward -> backward -> optimizer_step -> update_targets) asks the
host nothing: no operation whose result size or value the host must read (``nonzero``, ``item``,
a boolean-mask index, ``unique``...). Checked on the CPU by recording every aten operation of one
step of each method, and on CUDA under ``torch.cuda.set_sync_debug_mode("error")``."""
from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from scd_lab.config import METHOD_DEFAULTS
from scd_lab.studies import bench

TINY = ["backbone.widths=[8, 16, 16, 32]", "method.proj_hidden=64", "method.pred_hidden=64",
        "method.proj_dim=32", "method.queue_size=64", "method.lewel_slot_hidden=64"]

#: operations whose output shape or value needs the data on the host (a sync on a GPU)
DATA_DEPENDENT = {"nonzero", "_local_scalar_dense", "item", "masked_select", "unique",
                  "_unique", "_unique2", "unique_dim", "unique_consecutive", "argwhere",
                  "masked_scatter", "bincount", "histc", "equal", "is_nonzero"}
BOOL_INDEXED = {"index", "index_put", "index_put_", "_index_put_impl_"}


class HostReads(TorchDispatchMode):
    """Records the aten operations that would make the device wait for the host."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.overloadpacket.__name__
        if name in DATA_DEPENDENT or func.name() == "aten::repeat_interleave.Tensor":
            self.found.append(func.name())
        elif name in BOOL_INDEXED and any(
                isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8)
                for i in (args[1] or ())):
            self.found.append(f"{func.name()} with a boolean mask")
        return func(*args, **(kwargs or {}))


def test_the_recorder_sees_host_reads():
    """The check can fail: each of these reads the host."""
    x = torch.tensor([0.0, 1.0, 2.0])
    for read in (lambda: x.nonzero(), lambda: x[x > 0], lambda: float(x.sum()),
                 lambda: x.unique(), lambda: x.masked_select(x > 0)):
        with HostReads() as rec:
            read()
        assert rec.found, read
    with HostReads() as rec:
        torch.where(x > 0, x, -x)  # a selection with a fixed shape is fine
    assert rec.found == []


@pytest.mark.parametrize("method", sorted(METHOD_DEFAULTS))
def test_training_step_reads_nothing_from_the_host(method):
    tr = bench.build_trainer(method, size=16, batch=16, overrides=TINY)
    tr.train_step(*tr.views(0), 0)  # lazy state first (the finiteness record, optimizer buffers)
    with HostReads() as rec:
        x1, x2 = tr.views(1)  # the augmentation included
        tr.train_step(x1, x2, 1)
    assert rec.found == [], f"{method}: host reads in the step: {sorted(set(rec.found))}"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA only")
@pytest.mark.parametrize("method", sorted(METHOD_DEFAULTS))
def test_training_step_never_syncs_on_cuda(method):
    tr = bench.build_trainer(method, size=16, batch=16, overrides=TINY, device="cuda")
    tr.train_step(*tr.views(0), 0)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        x1, x2 = tr.views(1)
        tr.train_step(x1, x2, 1)
    finally:
        torch.cuda.set_sync_debug_mode("default")

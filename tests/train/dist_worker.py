"""Run under torchrun (2 processes, gloo): one step's gradients and MoCo's queue.

Usage: python -m torch.distributed.run --nproc_per_node 2 dist_worker.py OUT_DIR METHOD
Writes OUT_DIR/rank{r}.pt with the views, the averaged gradients and the queue.
"""
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from helpers import tiny_config, tiny_data  # noqa: E402

from scd_lab import dist  # noqa: E402
from scd_lab.runs import build_run

out_dir, method = Path(sys.argv[1]), sys.argv[2]
cfg = tiny_config(method, ["train.knn_every=0", "train.snapshot_every=0"])
trainer = build_run(cfg, out_dir / "run", data=tiny_data())
x1, x2 = trainer.views(0)
out = trainer.model(x1, x2)
out.loss.backward()
grads = {n: p.grad.clone() for n, p in trainer.method.named_parameters() if p.grad is not None}
trainer.method.enqueue(out)
state = {"x1": x1, "x2": x2, "grads": grads, "keys": out.keys,
         "queue": getattr(trainer.method, "queue", None),
         "idx": trainer.batch_indices(0), "world": dist.world_size()}
if hasattr(trainer.method, "base"):
    state["queue"] = getattr(trainer.method.base, "queue", None)
torch.save(state, out_dir / f"rank{dist.rank()}.pt")

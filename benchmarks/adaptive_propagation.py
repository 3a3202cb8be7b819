"""Two ways to run the adaptive propagation ``D^-1 W E`` with learnable edge weights.

    OMP_NUM_THREADS=1 python benchmarks/adaptive_propagation.py [--device cuda]

On the published Amazon-book graph (240,928 directed edges, 20,334 nodes, d = 32),
forward + backward (gradients to the edge weights and the embeddings), median of
``--repeats``:

* ``gather/scatter``: :func:`recbole_irllrec.model.graph.row_normalized_propagate`
  (``index_select`` of the tail rows, ``index_add`` into the heads), used by
  IRLLRec's intent graph and DCCF;
* ``torch.sparse``: the normalised weights as the values of a sparse COO matrix
  and ``torch.sparse.mm`` (its backward is a sampled dense-dense product for the
  values);

and prints how far apart their output and gradients are.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_data import AMAZON_SRC  # noqa: E402
from dataset_prep.safe_pickle import load_pickle  # noqa: E402
from recbole_irllrec.model.graph import bipartite_edges, row_normalized_propagate  # noqa: E402


def sparse_propagate(head, tail, weight, embeddings):
    n = embeddings.shape[0]
    row_sum = torch.zeros(n, dtype=weight.dtype, device=weight.device).index_add(0, head, weight)
    values = weight / row_sum.index_select(0, head)
    adj = torch.sparse_coo_tensor(torch.stack([head, tail]), values, (n, n), is_coalesced=True)
    return torch.sparse.mm(adj, embeddings)


def timed(fn, head, tail, weight, emb, repeats, sync):
    times, out = [], None
    for _ in range(repeats + 1):
        w = weight.detach().requires_grad_()
        e = emb.detach().requires_grad_()
        sync()
        start = time.perf_counter()
        out = fn(head, tail, w, e)
        out.pow(2).sum().backward()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:]), out.detach(), w.grad, e.grad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1) if args.device == "cpu" else None
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    train = load_pickle(AMAZON_SRC / "trn_mat.pkl").tocoo()
    n_users = train.shape[0]
    head, tail = bipartite_edges(train, n_users).to(device)
    n = n_users + train.shape[1]
    torch.manual_seed(0)
    emb = torch.randn(n, 32, device=device)
    weight = torch.rand(head.numel(), device=device) + 0.5
    results = {}
    for name, fn in (("gather/scatter", row_normalized_propagate), ("torch.sparse", sparse_propagate)):
        results[name] = timed(fn, head, tail, weight, emb, args.repeats, sync)
        print(f"{name:<16}{results[name][0] * 1000:9.2f} ms forward + backward", flush=True)
    a, b = results["gather/scatter"], results["torch.sparse"]
    # largest difference of output and gradients, relative to each tensor's largest entry
    gap = max(float((x - y).abs().max() / x.abs().max()) for x, y in zip(a[1:], b[1:]))
    print(f"edges {head.numel():,}, nodes {n:,}, output / gradient gap (relative): {gap:.1e}; "
          f"torch.sparse / gather-scatter time: {b[0] / a[0]:.2f}")


if __name__ == "__main__":
    main()

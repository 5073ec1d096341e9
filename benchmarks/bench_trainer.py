"""Trainer throughput against a hand-written PyTorch loop doing the same work (SGD + momentum, per-batch
cosine LR, gradient clipping) on the same model and batches; and TensorLoader against torch's DataLoader.
Medians of interleaved repeats, ratios in the same run.

    python benchmarks/bench_trainer.py [--repeats 5] [--epochs 1] [--fraction 0.1] [--threads 1] [--out BENCHMARKS.md]
"""
import argparse, statistics, sys, time
from pathlib import Path
import torch, torch.nn as nn, torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section
from nasbook.core import set_seed
from nasbook.data import get_dataset, TensorLoader, find_fashion_source, data_root
from nasbook.train import Trainer, small_cnn, cosine_lr


def hand_loop(model, dl, epochs, lr=0.1, momentum=0.9, wd=3e-4, clip=5.):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
    n = len(dl); model.train()
    for ep in range(epochs):
        for i, (x, y) in enumerate(dl):
            for g in opt.param_groups: g['lr'] = cosine_lr(ep + i / n, epochs, 0., lr)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True); loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip); opt.step()


def timed(fn):
    t0 = time.perf_counter(); fn(); return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=5); ap.add_argument('--epochs', type=int, default=1)
    ap.add_argument('--fraction', type=float, default=0.1); ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--batch-size', type=int, default=64); ap.add_argument('--out', default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    name = 'fashion-mnist' if find_fashion_source(data_root()) else 'digits'
    b = get_dataset(name, fraction=a.fraction if name == 'fashion-mnist' else None)
    x, y = b.train.tensors
    dl = TensorLoader(x, y, a.batch_size, shuffle=True, seed=0)
    make = lambda: (set_seed(0), small_cnn(b.input_shape, b.num_classes, (16, 32)))[1]
    runs = {'hand-written loop': [], 'Trainer': [], 'Trainer + progress bar': []}
    timed(lambda: hand_loop(make(), dl, 1))   # warm-up
    for _ in range(a.repeats):   # interleaved, so drifts in machine load hit all three alike
        runs['hand-written loop'].append(timed(lambda: hand_loop(make(), dl, a.epochs)))
        runs['Trainer'].append(timed(lambda: Trainer(make(), dl, None, epochs=a.epochs, progress=False).fit()))
        runs['Trainer + progress bar'].append(timed(lambda: Trainer(make(), dl, None, epochs=a.epochs, progress=True).fit()))
    base = statistics.median(runs['hand-written loop'])
    imgs = len(x) * a.epochs
    rows = ['| loop | median s | images/s | ratio to hand-written |', '|---|---|---|---|']
    for k, v in runs.items():
        m = statistics.median(v); rows.append(f"| {k} | {m:.3f} | {imgs / m:,.0f} | {m / base:.3f} |")
    # loaders: one pass over the training set, no model
    tl = TensorLoader(x, y, a.batch_size, shuffle=True, seed=0)
    tdl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), a.batch_size, shuffle=True)
    lt = {'TensorLoader': [], 'torch DataLoader(TensorDataset)': []}
    for _ in range(a.repeats):
        lt['TensorLoader'].append(timed(lambda: [None for _ in tl]))
        lt['torch DataLoader(TensorDataset)'].append(timed(lambda: [None for _ in tdl]))
    lb = statistics.median(lt['torch DataLoader(TensorDataset)'])
    rows2 = ['| loader | median s per pass | speed-up over DataLoader |', '|---|---|---|']
    for k, v in lt.items(): rows2.append(f"| {k} | {statistics.median(v):.4f} | {lb / statistics.median(v):.1f}× |")
    ratio = statistics.median(runs['Trainer']) / base
    body = (f"small_cnn(16, 32) on {b.name} ({len(x)} training images), batch {a.batch_size}, {a.epochs} epoch(s) per run, "
            f"median of {a.repeats} interleaved repeats.\n\n" + '\n'.join(rows) +
            f"\n\nTrainer overhead: {100 * (ratio - 1):+.1f}% against the hand-written loop (target: within 5%).\n\n"
            + '\n'.join(rows2) + '\n')
    cmd = 'python benchmarks/bench_trainer.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    path = write_section('trainer', 'Trainer throughput', cmd.strip(), body, Path(a.out) if a.out else None)
    print(body); print(f"written to {path}")
    return ratio


if __name__ == '__main__':
    main()

"""Generate nasbook's tabulated architecture benchmarks (nasbook/data/*.json.gz): every architecture of a grid trained with
several seeds, with per-seed validation and test accuracy, training seconds, parameters and MACs.

    python benchmarks/make_tables.py [--tables cnn2d-digits cnn4d-digits] [--seeds 3] [--epochs 2] [--out nasbook/data]
    nice -n 10 python benchmarks/make_tables.py --tables resnet5d-fashion --seeds 2      # 243 ResNets x 2 seeds, 3 epochs

Each finished training is appended to <out>/<table>.partial.jsonl first, so a killed run resumes where it stopped;
the compressed table is written (atomically) when its grid is complete, with the wall time it took.
Run it with one torch thread (the default here) so that training seconds are comparable between architectures.
"""
import argparse, gzip, itertools, json, os, platform, sys, time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent.parent))
from nasbook.execute import TrainEvaluator, build_small_cnn, cached_dataset
from nasbook.search import SearchSpace, Int
from nasbook.resnets import build_resnet_widths

SCHEMA = 'nasbook-table/1'
# name -> (space, grid values per dimension, dataset); a grid of equally spaced integers inside each Int's bounds
TABLES = {
    'cnn2d-digits': (SearchSpace([Int('w1', 4, 60, step=8), Int('w2', 8, 120, step=16)], 'cnn2d-digits'),
                     {'w1': list(range(4, 61, 8)), 'w2': list(range(8, 121, 16))}, 'digits'),
    'cnn4d-digits': (SearchSpace([Int(f'w{i}', 8, 56, step=24) for i in range(1, 5)], 'cnn4d-digits'),
                     {f'w{i}': [8, 32, 56] for i in range(1, 5)}, 'digits'),
    # the spline paper's shape: ResNet stage widths (c1, g1..g4; one basic block per group, 'small' stem) in 5 dimensions,
    # 3 values each = 243 architectures, on a fixed Fashion-MNIST subset (see fashion_subset), 3 epochs
    'resnet5d-fashion': (SearchSpace([Int('c1', 4, 12, step=4), Int('g1', 4, 16, step=6), Int('g2', 8, 24, step=8),
                                      Int('g3', 8, 32, step=12), Int('g4', 8, 40, step=16)], 'resnet5d-fashion'),
                         {'c1': [4, 8, 12], 'g1': [4, 10, 16], 'g2': [8, 16, 24], 'g3': [8, 20, 32], 'g4': [8, 24, 40]},
                         'fashion-subset'),
}
# per table: (builder, epochs if not given) -- the digits tables keep their defaults
EPOCHS = {'resnet5d-fashion': 3}
SUBSET = {'train': 1000, 'valid': 500, 'test': 500}   # fixed Fashion-MNIST subset sizes (seeded 0, 1, 2)


def build_resnet5d(config, bundle):
    "The ResNet width family with one basic block per group: config {c1, g1, g2, g3, g4}."
    return build_resnet_widths({**config, 'depth': 1}, bundle)


def fashion_subset():
    "A fixed subset of Fashion-MNIST: 1000 training, 500 validation (from the 6000 held out) and 500 test images, seeded."
    import numpy as np
    from torch.utils.data import TensorDataset
    from nasbook.data import DataBundle
    b = cached_dataset('fashion-mnist')
    def sub(ds, n, seed):
        x, y = ds.tensors; idx = np.sort(np.random.default_rng(seed).permutation(len(y))[:n]); return TensorDataset(x[idx], y[idx])
    return DataBundle('fashion-mnist[subset 1000/500/500]', sub(b.train, SUBSET['train'], 0), sub(b.valid, SUBSET['valid'], 1),
                      sub(b.test, SUBSET['test'], 2), b.num_classes, b.input_shape, b.mean, b.std, b.classes)


def _setup(dataset):
    "(builder, dataset for TrainEvaluator, DataBundle) of a table's dataset."
    if dataset == 'fashion-subset':
        bundle = fashion_subset(); return build_resnet5d, bundle, bundle
    return build_small_cnn, dataset, cached_dataset(dataset)


def count_macs(model, in_shape):
    "Multiply-accumulates of one forward pass of one input of shape `in_shape` (conv and linear layers)."
    macs = []
    def conv(m, i, o): macs.append(o.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1])
    def lin(m, i, o): macs.append(m.in_features * m.out_features)
    hs = [m.register_forward_hook(conv if isinstance(m, torch.nn.Conv2d) else lin)
          for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    model.eval()
    with torch.no_grad(): model(torch.zeros(1, *in_shape))
    for h in hs: h.remove()
    return int(sum(macs))


def generate(name, seeds, epochs, out:Path, quiet=False):
    space, grid, dataset = TABLES[name]
    for d in space.dims: assert list(d.values) == grid[d.name], (d, grid[d.name])
    build, data, bundle = _setup(dataset)
    ev = TrainEvaluator(build, data, epochs=epochs, test=True, threads=1)
    ev(configs_warm := dict(zip(grid, (v[0] for v in grid.values()))), 0)   # warm-up (torch's first backward is slow): not recorded
    part = out/f'{name}.partial.jsonl'
    done = {}
    if part.exists():
        for line in part.read_text().splitlines():
            try: r = json.loads(line)
            except json.JSONDecodeError: continue   # a line cut by a kill
            done[(json.dumps(r['config'], sort_keys=True), r['seed'])] = r
    configs = [dict(zip(grid, v)) for v in itertools.product(*grid.values())]
    t0 = time.time(); n = len(configs) * len(seeds); k = 0
    with open(part, 'a') as f:
        for c in configs:
            for s in seeds:
                key = (json.dumps(c, sort_keys=True), s); k += 1
                if key in done: continue
                m = ev(c, s)
                assert m.ok, (c, s, m)
                r = {'config': c, 'seed': s, 'valid': m.value, 'test': m.meta['test_top1'], 'seconds': round(m.cost, 4),
                     'params': m.meta['params']}
                f.write(json.dumps(r) + '\n'); f.flush(); done[key] = r
                if not quiet: print(f"{name} {k}/{n} {c} seed {s}: valid {m.value:.4f} test {r['test']:.4f} {m.cost:.2f}s "
                                    f"({time.time() - t0:.0f}s)", flush=True)
    rows = []
    for c in configs:
        rs = [done[(json.dumps(c, sort_keys=True), s)] for s in seeds]
        model = build(c, bundle)
        rows.append({'config': c, 'params': rs[0]['params'], 'macs': count_macs(model, bundle.input_shape),
                     'valid': [r['valid'] for r in rs], 'test': [r['test'] for r in rs], 'seconds': [r['seconds'] for r in rs]})
    table = {'schema': SCHEMA, 'name': name, 'space': space.to_dict(), 'grid': grid, 'seeds': list(seeds),
             'evaluator': ev.describe(), 'generated_by': 'benchmarks/make_tables.py',
             'command': f"python benchmarks/make_tables.py --tables {name} --seeds {len(seeds)} --epochs {epochs}",
             **({'subset': dict(SUBSET, seeds=[0, 1, 2], depth=1)} if dataset == 'fashion-subset' else {}),
             'training_seconds_total': round(sum(sum(r['seconds']) for r in rows), 1),
             'wall_seconds_this_run': round(time.time() - t0, 1),
             'host': {'torch': torch.__version__, 'python': platform.python_version(), 'torch_threads': 1,
                      'machine': platform.machine()},
             'rows': rows}
    tmp = out/f'{name}.json.gz.part'
    with gzip.open(tmp, 'wt') as g: json.dump(table, g)
    os.replace(tmp, out/f'{name}.json.gz')
    part.unlink()
    return table


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--tables', nargs='+', default=list(TABLES), choices=list(TABLES))
    p.add_argument('--seeds', type=int, default=3)
    p.add_argument('--epochs', type=int, default=None, help="epochs per training (default 2; 3 for resnet5d-fashion)")
    p.add_argument('--out', default=str(Path(__file__).parent.parent/'nasbook'/'data'))
    p.add_argument('--quiet', action='store_true')
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    for name in a.tables:
        t0 = time.time()
        t = generate(name, list(range(a.seeds)), a.epochs or EPOCHS.get(name, 2), out, a.quiet)
        print(f"{name}: {len(t['rows'])} architectures x {a.seeds} seeds, {t['training_seconds_total']:.0f} s of training, "
              f"{time.time() - t0:.0f} s wall -> {out/(name + '.json.gz')}", flush=True)


if __name__ == '__main__': main()

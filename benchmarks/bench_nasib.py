"""NASIB costs: the step time and peak training memory of one superkernel layer and of the whole supernet when every layer runs
its two sampled candidates (NASIB, §2.2) against all m² candidates at once (a DARTS-style mixed op), for m = 3, 5, 7, 9; and how
well a search keeps its time budget (requested budget against the wall time it used).

    python benchmarks/bench_nasib.py [--sizes 3,5,7,9] [--repeats 3] [--batch 16] [--channels 8] [--hw 16] [--layers 6]
                                     [--budgets 20,40,80] [--threads 1] [--quick] [--out BENCHMARKS.md] [--figure-dir benchmarks/figures]
"""
import argparse, contextlib, os, statistics, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch, torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section, ROOT
from nasbook.core import set_seed
from nasbook.memory import MemoryTrace
from nasbook.nasib import SampledLayer, NasibNet, NasibSampler, superkernel_ops


@contextlib.contextmanager
def quiet():
    "fd 2 to /dev/null: the CPU profiler behind MemoryTrace prints at every start and stop."
    sys.stderr.flush(); saved = os.dup(2)
    with open(os.devnull, 'w') as null:
        os.dup2(null.fileno(), 2)
        try: yield
        finally: os.dup2(saved, 2); os.close(saved)


def rel(path, out):
    md = (out or ROOT / 'BENCHMARKS.md').resolve().parent
    return os.path.relpath(Path(path).resolve(), md)


def set_paths(module, mode, gen):
    "mode 'two': every layer samples a new pair (NASIB); 'all': every layer runs all m² candidates weighted by softmax(α) (DARTS)."
    layers = [module] if isinstance(module, SampledLayer) else module.search_layers()
    for l in layers:
        if mode == 'all': l.active, l.weighting = None, 'softmax'
        else: l.active, l.weighting = torch.randperm(len(l), generator=gen)[:2].sort().values, 'sum'


def step(module, x, y, mode, gen):
    set_paths(module, mode, gen)
    out = module(x)
    loss = F.cross_entropy(out, y) if out.dim() == 2 else out.pow(2).mean()
    module.zero_grad(set_to_none=True); loss.backward()


def measure(module, x, y, mode, repeats):
    "(median seconds per training step, peak bytes of one step above the memory at entry)."
    gen = torch.Generator().manual_seed(0)
    step(module, x, y, mode, gen)                                    # warm-up (and allocates .grad of the pair)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter(); step(module, x, y, mode, gen); times.append(time.perf_counter() - t0)
    module.zero_grad(set_to_none=True)
    with quiet(), MemoryTrace(x.device) as mt: step(module, x, y, mode, gen)
    module.zero_grad(set_to_none=True)
    return statistics.median(times), mt.peak


def cost_table(sizes, batch, C, hw, layers, repeats):
    rows, pts = [], []
    for m in sizes:
        set_seed(0)
        lay = SampledLayer(C, C, superkernel_ops(m)); x = torch.randn(batch, C, hw, hw)
        net = NasibNet((1, hw, hw), 10, C=C, layers=layers, m=m); xn = torch.randn(batch, 1, hw, hw); yn = torch.randint(0, 10, (batch,))
        r = {'m': m}
        for what, mod, xx, yy in (('layer', lay, x, None), ('supernet', net, xn, yn)):
            for mode in ('two', 'all'):
                r[what, mode] = measure(mod, xx, yy, mode, repeats)
        pts.append(r)
        for what in ('layer', 'supernet'):
            (t2, m2), (ta, ma) = r[what, 'two'], r[what, 'all']
            rows.append(f"| {m} | {m * m} | {what} | {1e3 * t2:.1f} | {1e3 * ta:.1f} | {ta / t2:.1f}× | {m2 / 2**20:.2f} | {ma / 2**20:.2f} | {ma / m2:.1f}× |")
    return rows, pts


def summary(pts):
    "One sentence from the measurements: how memory and time of both variants grow from the smallest to the largest m."
    a, b = pts[0], pts[-1]
    g = lambda what, mode, k: b[what, mode][k] / a[what, mode][k]
    return (f"From m = {a['m']} to m = {b['m']} ({a['m'] ** 2} to {b['m'] ** 2} candidates) the supernet's peak memory grows "
            f"{g('supernet', 'all', 1):.1f}× with all candidates and {g('supernet', 'two', 1):.1f}× with two sampled ones (whose kernels grow "
            f"from at most {a['m']}×{a['m']} to {b['m']}×{b['m']}); its step time {g('supernet', 'all', 0):.1f}× and {g('supernet', 'two', 0):.1f}×. "
            f"At m = {b['m']}, all candidates take {b['supernet', 'all'][1] / b['supernet', 'two'][1]:.0f}× the memory and "
            f"{b['supernet', 'all'][0] / b['supernet', 'two'][0]:.0f}× the time of two sampled ones.")


def plot_costs(pts, path, title):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 2, figsize=(9, 3.4))
    ms = [p['m'] for p in pts]
    for what, ls in (('layer', '--'), ('supernet', '-')):
        for k, ax, scale, lab in ((1, axs[0], 2**-20, 'peak training memory, MiB'), (0, axs[1], 1e3, 'ms per training step')):
            ax.plot(ms, [p[what, 'all'][k] * scale for p in pts], 'o' + ls, color='tab:red', label=f"{what}: all m² candidates (DARTS mixed op)")
            ax.plot(ms, [p[what, 'two'][k] * scale for p in pts], 's' + ls, color='tab:blue', label=f"{what}: two sampled (NASIB)")
            ax.set_xlabel('superkernel size m (m² candidates)'); ax.set_ylabel(lab); ax.set_yscale('log'); ax.grid(alpha=0.3); ax.set_xticks(ms)
    axs[0].legend(fontsize=7); fig.suptitle(title, fontsize=8)
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches='tight'); plt.close(fig)
    return path


def budget_rows(budgets, fraction, layers, C, m):
    "Run a NASIB search (digits) under each wall-time budget; (requested s, epochs bought, epoch s, used s) per budget."
    from nasbook.data import get_dataset
    from nasbook.nasib import nasib_search
    data = get_dataset('digits', fraction=fraction)
    out = []
    for b in budgets:
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            res = nasib_search(data, budget=f"{b}s", m=m, layers=layers, C=C, train_epochs=1, out_dir=d, progress=False)
            wall = time.perf_counter() - t0
        out.append((b, res['search_epochs'], res['search_epochs_run'], res['epoch_seconds'], res['search_seconds'], wall - res['search_seconds']))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--sizes', default='3,5,7,9', help='superkernel sizes m')
    ap.add_argument('--repeats', type=int, default=3, help='timed steps per measurement (median reported)')
    ap.add_argument('--batch', type=int, default=16); ap.add_argument('--channels', type=int, default=8)
    ap.add_argument('--hw', type=int, default=16, help='input height = width'); ap.add_argument('--layers', type=int, default=6, help='supernet layers')
    ap.add_argument('--budgets', default='20,40,80', help='wall-time budgets in seconds for the budget-accuracy part (empty: skip)')
    ap.add_argument('--threads', type=int, default=1, help='torch threads')
    ap.add_argument('--quick', action='store_true', help='a tiny run for the smoke test (m = 3, 5; one repeat; budgets 8,12 s)')
    ap.add_argument('--out', default=None, help='markdown file to write the sections to (default: BENCHMARKS.md)')
    ap.add_argument('--figure-dir', default=None, help='folder for the figures (default: benchmarks/figures)')
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads); torch.cuda.is_available()     # probe CUDA once, before anything is timed
    if a.quick: a.sizes, a.repeats, a.batch, a.hw, a.layers, a.budgets = '3,5', 1, 4, 8, 3, '8,12'
    out = Path(a.out) if a.out else None
    figs = Path(a.figure_dir) if a.figure_dir else ROOT / 'benchmarks' / 'figures'
    cmd = 'python benchmarks/bench_nasib.py' + (' ' + ' '.join(argv if argv is not None else sys.argv[1:]) if (argv or sys.argv[1:]) else '')
    sizes = [int(s) for s in a.sizes.split(',')]
    rows, pts = cost_table(sizes, a.batch, a.channels, a.hw, a.layers, a.repeats)
    fig = plot_costs(pts, figs / 'nasib_costs.png', f"batch {a.batch}, {a.channels} channels, {a.hw}×{a.hw} input; supernet: {a.layers} layers")
    body = (f"One training step (forward + backward) of a single superkernel layer ({a.channels}→{a.channels} channels, batch {a.batch}, "
            f"{a.hw}×{a.hw}) and of the whole supernet (`NasibNet`, {a.layers} layers, every layer a superkernel), with every layer running "
            "two sampled candidates (NASIB, Eq. 1) against all m² candidates weighted by softmax(α) (a DARTS mixed op). Time: median of "
            f"{a.repeats} steps; memory: peak bytes allocated during one step above the memory at its start (`nasbook.memory.MemoryTrace`, "
            "weights excluded, activations and gradients included).\n\n"
            "| m | candidates | what | ms/step, 2 sampled | ms/step, all | time ratio | peak MiB, 2 sampled | peak MiB, all | memory ratio |\n"
            "|---|---|---|---|---|---|---|---|---|\n" + '\n'.join(rows) +
            f"\n\n![step time and memory against m]({rel(fig, out)})\n\n"
            "The paper's reason for sampling (§2.2, \"to ensure the network fits on GPU memory\") is the memory column: a mixed op over all "
            "m² candidates keeps every candidate's activations (and weight gradients) for the backward pass. " + summary(pts))
    write_section('nasib-costs', 'NASIB: two sampled candidates against all m² (step time, peak memory)', cmd, body, out)
    if a.budgets:
        budgets = [float(b) for b in a.budgets.split(',')]
        br = budget_rows(budgets, 0.3 if not a.quick else 0.1, a.layers, a.channels, sizes[0])
        body2 = ("A NASIB search on digits (" + ('10' if a.quick else '30') + f"% of the training images, {a.layers} layers, {a.channels} channels, "
                 f"m = {sizes[0]}) under each wall-time budget: the first epoch is timed, the budget buys "
                 "`total_epochs = budget // epoch time` (§2.1), and the search stops early if an epoch would overrun. 'Used' is the search's "
                 "own wall time (the timing epoch, its epochs with their α passes, measurements and checkpoint writes), without the final "
                 "network's training.\n\n"
                 "| requested budget, s | epoch time, s | epochs bought | epochs run | used, s | used / requested | final training and start-up, s |\n|---|---|---|---|---|---|---|\n" +
                 '\n'.join(f"| {b:g} | {es:.2f} | {e} | {er} | {u:.1f} | {u / b:.2f} | {f:.1f} |" for b, e, er, es, u, f in br) +
                 f"\n\nUsed / requested: {', '.join(f'{u / b:.2f}' for b, e, er, es, u, f in br)}. The search plans its epochs from one timed epoch "
                 "(Algorithm 1) and before every epoch stops if the time spent plus the mean epoch time so far would exceed the budget, so it "
                 "overruns only when its last epoch is slower than the mean; when later epochs run faster than the timed one (warm caches, "
                 "less load) part of the budget is left unused. The final network's training (and the process start) is outside the budget, "
                 "as in the paper's 'search time'.")
        write_section('nasib-budget', 'NASIB: requested time budget against the time used', cmd, body2, out)
    print(f"wrote {out or ROOT / 'BENCHMARKS.md'}")


if __name__ == '__main__':
    main()

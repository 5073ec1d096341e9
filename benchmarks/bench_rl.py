"""NAS-RL / NASNet controller: (1) its overhead — sampling a batch of m architectures and one policy-gradient update,
per architecture — against the training of one child on digits; (2) REINFORCE and PPO against random search over the same
decisions: best-so-far over many seeds on a cheap synthetic evaluator with a known best (TokenMatch).

    python benchmarks/bench_rl.py [--seeds 10] [--budget 300] [--repeats 5] [--epochs 5] [--quick] [--out BENCHMARKS.md]
                                  [--figure benchmarks/figures/rl_vs_random.png]
"""
import argparse, statistics, sys, time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section, ROOT
from nasbook.search import run_search
from nasbook.execute import Measurement, TrainEvaluator
from nasbook.rl import NASRLSpace, ChoiceSpace, RLSearch, TokenMatch, make_strategy, random_tokens, build_nasrl

try: from nasbook.nasnet import NASNetSpace
except ImportError: NASNetSpace = None


# ---------------------------------------------------------------- 1. controller overhead
def controller_seconds(space, method, controller, batch=8, repeats=5):
    "Median seconds per architecture of: sample a batch of `batch`, be told their rewards, one update."
    st = RLSearch(space, seed=0, method=method, batch=batch, controller=controller)
    out = []
    for r in range(repeats + 1):
        t0 = time.perf_counter()
        cs = [st.ask() for _ in range(batch)]
        for k, c in enumerate(cs): st.tell(c, Measurement(0.5 + 0.01 * ((k + r) % 7)))
        if r: out.append((time.perf_counter() - t0) / batch)          # the first round warms up
    return statistics.median(out)

def child_seconds(space, epochs, repeats, fraction):
    "Median seconds to train one random child of `space` (TrainEvaluator on digits, one thread)."
    ev = TrainEvaluator(build_nasrl, 'digits', epochs=epochs, batch_size=64, data_kw={'fraction': fraction} if fraction else {})
    rng = np.random.default_rng(0); ts = []
    for r in range(repeats):
        m = ev(space.decode(random_tokens(space, rng)), r)
        ts.append(m.cost)
    return statistics.median(ts)

def overhead(args):
    rows = []
    spaces = [('NAS-RL, 6 layers', NASRLSpace(6), 'nasrl'), ('NAS-RL, 10 layers', NASRLSpace(10), 'nasrl')]
    if NASNetSpace is not None: spaces.append(('NASNet cells, B=5', NASNetSpace(5), 'nasnet'))
    child = child_seconds(NASRLSpace(6), args.epochs, args.repeats, 0.1 if args.quick else None)
    for name, sp, ctl in spaces:
        for method in ('reinforce', 'ppo'):
            s = controller_seconds(sp, method, ctl, repeats=args.repeats)
            rows.append((name, ctl, method, len(sp.decisions), s))
    body = [f"Controller work per architecture (sample a batch of m = 8, one update; PPO: 4 passes) against the training "
            f"of one 6-layer NAS-RL child on digits ({args.epochs} epochs, batch 64, one thread{', a tenth of the images' if args.quick else ''}): "
            f"median {child:.2f} s over {args.repeats} children.\n",
            "| space | controller | update | decisions | controller s / architecture | fraction of one child's training |",
            "|---|---|---|---|---|---|"]
    for name, ctl, method, T, s in rows:
        body.append(f"| {name} | {ctl} | {method} | {T} | {s * 1e3:.1f} ms | {s / child:.2%} |")
    return '\n'.join(body), rows, child


# ---------------------------------------------------------------- 2. RL vs random
def curves(space, name, seeds, budget, **kw):
    out = []
    for s in seeds:
        res = run_search(make_strategy(name, space, s, **kw), TokenMatch(space, seed=1000 + s), budget, progress=False)
        out.append(np.maximum.accumulate([r['value'] for r in res.records]))
    return np.array(out)

def comparison(args):
    settings = {'random': {}, 'reinforce': dict(batch=4, lr=0.02), 'ppo': dict(batch=4, lr=0.01)}
    spaces = [('choices 4^5', ChoiceSpace({f"x{i}": list(range(4)) for i in range(5)})), ('NAS-RL, 3 layers', NASRLSpace(3))]
    if NASNetSpace is not None: spaces.append(('NASNet cells, B=2', NASNetSpace(2)))
    seeds = range(args.seeds); marks = [m for m in (25, 50, 100, 200, 400) if m < args.budget] + [args.budget]
    res, body = {}, [f"TokenMatch: the value of an architecture is the fraction of its decisions equal to a hidden target "
                     f"(drawn per seed), so the best is known (1.0). {args.seeds} seeds, {args.budget} architectures each; "
                     f"controller {{'reinforce': m=4, Adam 0.02; 'ppo': m=4, Adam 0.01, clip 0.2, 4 passes}} "
                     f"(learning rates larger than the papers' 6e-4 / 3.5e-4, which need thousands of samples); reward = value cubed.\n",
                     "| space | strategy | " + ' | '.join(f"median best @{m}" for m in marks) + " | found the best | median samples to 0.9 |",
                     "|---|---|" + '---|' * len(marks) + '---|---|']
    for sname, sp in spaces:
        for strat, kw in settings.items():
            c = curves(sp, strat, seeds, args.budget, **kw); res[(sname, strat)] = c
            hit = [int(np.argmax(x >= 0.9)) + 1 if (x >= 0.9).any() else None for x in c]
            med = statistics.median([h if h else args.budget + 1 for h in hit])
            body.append(f"| {sname} | {strat} | " + ' | '.join(f"{np.median(c[:, m - 1]):.3f}" for m in marks) +
                        f" | {int((c[:, -1] == 1).sum())}/{len(c)} | {med if med <= args.budget else f'> {args.budget}'} |")
    return '\n'.join(body), res, spaces


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--seeds', type=int, default=10); p.add_argument('--budget', type=int, default=300)
    p.add_argument('--repeats', type=int, default=5); p.add_argument('--epochs', type=int, default=5)
    p.add_argument('--quick', action='store_true', help='a smoke run: 2 seeds, budget 40, 1 repeat, 1 epoch on a tenth of the images')
    p.add_argument('--out', default=str(ROOT/'BENCHMARKS.md'))
    p.add_argument('--figure', default=str(ROOT/'benchmarks'/'figures'/'rl_vs_random.png'))
    args = p.parse_args(argv)
    if args.quick: args.seeds, args.budget, args.repeats, args.epochs = 2, 40, 1, 1
    torch.set_num_threads(1)
    t0 = time.time()
    ob, rows, child = overhead(args)
    cb, res, spaces = comparison(args)
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, len(spaces), figsize=(4.2 * len(spaces), 3.2), squeeze=False)
    for ax, (sname, _) in zip(axs[0], spaces):
        for strat in ('random', 'reinforce', 'ppo'):
            c = res[(sname, strat)]; t = np.arange(1, c.shape[1] + 1)
            ax.plot(t, np.median(c, 0), label=strat)
            ax.fill_between(t, np.percentile(c, 25, 0), np.percentile(c, 75, 0), alpha=0.2)
        ax.set_title(sname, fontsize=9); ax.set_xlabel('architectures sampled'); ax.set_ylim(None, 1.01)
    axs[0, 0].set_ylabel('best so far (median, IQR)'); axs[0, 0].legend(fontsize=8)
    fig.tight_layout(); Path(args.figure).parent.mkdir(parents=True, exist_ok=True); fig.savefig(args.figure, dpi=100)
    try: rel = Path(args.figure).resolve().relative_to(Path(args.out).resolve().parent)
    except ValueError: rel = Path(args.figure)
    cmd = 'python benchmarks/bench_rl.py' + (' --quick' if args.quick else f" --seeds {args.seeds} --budget {args.budget} --repeats {args.repeats} --epochs {args.epochs}")
    write_section('rl-overhead', 'NAS-RL controller: overhead against one child', cmd, ob, Path(args.out))
    write_section('rl-vs-random', 'NAS-RL / NASNet controller against random search (synthetic reward, known best)', cmd,
                  cb + f"\n\n![best-so-far curves]({rel})\n\n(wall time of this script: {time.time() - t0:.0f} s)", Path(args.out))
    print(ob); print(cb)

if __name__ == '__main__':
    main()

"""Cost of the train-free proxies and of Shapley edge importance: seconds to score one SpiderNet mutation candidate with
NTK κ + linear regions on the slim model (Algorithm 5's on and off twins), and SHAP seconds against the number of edges and
of samples, with the agreement of shap's estimates with exact Shapley values.

    python benchmarks/bench_proxies.py [--repeats 3] [--mutations 0,10,30] [--lrc-samples 3000] [--shap-repeats 3]
                                       [--threads 1] [--quick] [--out BENCHMARKS.md] [--figure-dir benchmarks/figures]
"""
import argparse, copy, math, os, random, statistics, sys, time, warnings
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section, ROOT
from nasbook.core import set_seed, derive_seed
from nasbook.data import get_dataset
from nasbook.cells import CellSupernet
from nasbook.proxies import ntk_lrc_score, ntk_condition, accept_mutation, ProxyWarning
from nasbook.shapley import Game, exact_shapley, shap_values, masked_value, masked_edges
from nasbook.train import Trainer

THESIS_NTK = "about a minute per model on GPU (§5.4.1)"


def timed(fn):
    t0 = time.perf_counter(); fn(); return time.perf_counter() - t0


def med(v): return statistics.median(v)


def rel(path, out):
    md = (out or ROOT / 'BENCHMARKS.md').resolve().parent
    return os.path.relpath(Path(path).resolve(), md)


# ---------------------------------------------------------------- 1. NTK-LRC of a mutation candidate
def digits_inputs(n_ntk, n_lrc, seed=0):
    "An NTK batch of `n_ntk` digit images and `n_lrc` 3×3 crops of digit images (TE-NAS's region-count input)."
    imgs = get_dataset('digits').train.tensors[0]           # already normalised by the bundle
    g = torch.Generator().manual_seed(seed)
    x = imgs[torch.randperm(len(imgs), generator=g)[:n_ntk]]
    ii = torch.randint(0, len(imgs), (n_lrc,), generator=g); r0 = torch.randint(0, 6, (n_lrc, 2), generator=g)
    crops = torch.stack([imgs[i, :, a:a + 3, b:b + 3] for i, (a, b) in zip(ii.tolist(), r0.tolist())])
    return x, crops


def slim_spidernet(seed=0):
    "SpiderNet's slim start: three cells (N, R, R), one input node per antecedent, minimal cells, 1 channel."
    set_seed(seed)
    m = CellSupernet((1, 8, 8), 10, scale=1, sections=['N', 'R', 'R'], handler='all', connect='minimal', grow=False)
    for _ in range(3): m.grow()
    return m


def triangular(model, rng):
    "A triangular mutation of an edge u->v drawn uniformly from the model: new node w before v, new edges u->w and w->v."
    name, _ = rng.choice(model.edges())
    c, k = name.split('/', 1); i = int(c[1:]); cell = model.cells[i]
    u, v = k.split('->')
    w = cell.add_node(before=v); cell.add_edge(u, w); cell.add_edge(w, v)
    model._record_input_shapes()
    return i, [f"{u}->{w}", f"{w}->{v}"]


def at_size(model, hw):
    "The same network (same weights, same enabled edges) built for hw×hw inputs."
    g = model.to_dict(); g['config']['in_shape'] = [g['config']['in_shape'][0], hw, hw]
    m = CellSupernet.from_dict(g); m.load_state_dict(model.state_dict())
    for (k, e), (k2, e2) in zip(model.edges(), m.edges()):
        assert k == k2; e2.enabled = e.enabled
    return m


def score_candidate(S, x, crops, rng):
    "Algorithm 5, lines 3-8, for one random candidate: S' = mutated copy, S'_on and S'_off twins, κ + LRC of both."
    t0 = time.perf_counter()
    on = copy.deepcopy(S); i, new = triangular(on, rng)
    off = copy.deepcopy(on)
    for k in new: off.cells[i].edges[k].enabled = False      # the new edges disconnected: S'_off computes S
    lrc_on, lrc_off = at_size(on, crops.shape[-1]), at_size(off, crops.shape[-1])
    t1 = time.perf_counter()
    s_on = ntk_lrc_score(on, x, lrc_model=lrc_on, lrc_x=crops, double=True)   # as nasbook.spider.ntk_lrc_select
    s_off = ntk_lrc_score(off, x, lrc_model=lrc_off, lrc_x=crops, double=True)
    t2 = time.perf_counter()
    with warnings.catch_warnings():   # a diagnostic outside the timing: κ of the on twin with BatchNorm's running statistics
        warnings.simplefilter('ignore', ProxyWarning)
        k_eval = ntk_condition(on, x, mode='eval', details=True)
    return dict(total=t2 - t0, build=t1 - t0, ntk=s_on.ntk_seconds + s_off.ntk_seconds, lrc=s_on.lrc_seconds + s_off.lrc_seconds,
                on=s_on, off=s_off, accept=accept_mutation(s_on.kappa, s_off.kappa, s_on.lrc, s_off.lrc), eval=k_eval)


def ntk_lrc_part(mutations, repeats, n_ntk, n_lrc):
    x, crops = digits_inputs(n_ntk, n_lrc)
    rng = random.Random(0); S = slim_spidernet(0); base = {}
    for k in sorted(mutations):
        while sum(len(c.order) - 2 for c in S.cells) < k: triangular(S, rng)
        base[k] = copy.deepcopy(S)
    t_warm = timed(lambda: score_candidate(base[min(mutations)], x, crops, random.Random(99)))   # first jacrev/vmap call
    res = {k: [] for k in mutations}
    for r in range(repeats):   # interleaved over the model sizes; a new random candidate every repeat
        for k in (mutations if r % 2 == 0 else mutations[::-1]):
            res[k].append(score_candidate(base[k], x, crops, random.Random(derive_seed(r, k))))
    rows = ['| mutations done | nodes / edges / live ops | params (slim) | seconds per candidate, median (min–max) | κ, both twins | '
            'LRC, both twins | copies + mutation + 3×3 copies | κ status on / off | LRC on / off (median) | accepted | '
            'on twin in eval mode: κ ok, median κ | thesis |', '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for k in mutations:
        S, v = base[k], res[k]
        tot = [c['total'] for c in v]
        st_on = '/'.join(sorted({c['on'].status for c in v})); st_off = '/'.join(sorted({c['off'].status for c in v}))
        rows.append(f"| {k} | {sum(len(c.order) for c in S.cells)} / {len(S.edges())} / {S.n_live_ops()} | "
                    f"{sum(p.numel() for p in S.parameters()):,} | {med(tot):.2f} ({min(tot):.2f}–{max(tot):.2f}) | "
                    f"{med([c['ntk'] for c in v]):.2f} | {med([c['lrc'] for c in v]):.2f} | {med([c['build'] for c in v]):.2f} | "
                    f"{st_on} / {st_off} | {med([c['on'].lrc for c in v]):.0f} / {med([c['off'].lrc for c in v]):.0f} | "
                    f"{sum(c['accept'] for c in v)} of {len(v)} | {sum(c['eval'].status == 'ok' for c in v)} of {len(v)}, "
                    f"{med([c['eval'].kappa for c in v]):.3g} | {'≈60 s per model, GPU' if k == mutations[0] else ''} |")
    return rows, res, base, t_warm


def plot_ntk(res, path, title):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ks = list(res); xs = np.arange(len(ks))
    parts = [('build', 'copies, mutation, 3×3 copies'), ('ntk', 'κ (both twins)'), ('lrc', 'LRC (both twins)')]
    fig, ax = plt.subplots(figsize=(5.4, 3.4)); bottom = np.zeros(len(ks))
    for key, lab in parts:
        h = np.array([med([c[key] for c in res[k]]) for k in ks])
        ax.bar(xs, h, 0.55, bottom=bottom, label=lab); bottom += h
    for xi, k in zip(xs, ks):
        t = [c['total'] for c in res[k]]
        ax.errorbar([xi], [med(t)], yerr=[[med(t) - min(t)], [max(t) - med(t)]], color='k', capsize=4, lw=1)
    ax.axhline(60, color='tab:red', ls='--', lw=1)
    ax.text(xs[-1] + 0.3, 61, 'thesis: ≈60 s per model (GPU)', color='tab:red', fontsize=7, va='bottom', ha='right')
    ax.set_xticks(xs, [f"{k} mutations" for k in ks]); ax.set_ylabel('seconds per candidate (median)')
    ax.set_ylim(0, max(70, bottom.max() * 1.2)); ax.set_title(title, fontsize=8); ax.legend(fontsize=7, loc='upper left')
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches='tight'); plt.close(fig)
    return path


# ---------------------------------------------------------------- 2. SHAP
def toy_game(n, seed=0):
    "A weighted game with interactions of every order: a sigmoid of a random weighted sum plus a pairwise term."
    r = np.random.default_rng(seed)
    w, A = r.normal(size=n), np.triu(r.normal(size=(n, n)), 1)
    return lambda m: float(1 / (1 + np.exp(-(w @ m))) + m @ A @ m)


def shap_model(epochs, seed=0):
    "A small BonsaiNet (2 cells, 14 edges, 3 ops per edge) trained briefly on digits, and a fixed batch of 64 training images."
    b = get_dataset('digits', seed=seed); dls = b.loaders(64, seed=seed)
    set_seed(seed)
    m = CellSupernet(b.input_shape, b.num_classes, scale=4, sections=['N', 'R'], nodes=3, depth=2,
                  ops=['skip_connect', 'max_pool_3x3', 'sep_conv_3x3'])
    m.grow()
    t = Trainer(m, dls[0], dls[1], epochs=epochs, lr=0.05, progress=False); t.fit()
    x, y = b.train.tensors
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:64]
    return m, x[idx], y[idx], t.history[-1]['valid_top1']


def real_run(model, x, y, n, method, nsamples=None, seed=0):
    "What `edge_importance` does on the first n edges (the rest stay on), with the Game exposed: (values, seconds, evaluations, game)."
    edges = model.edges()[:n]
    t0 = time.perf_counter()
    with masked_edges(edges) as E:
        def set_mask(mask):
            for (_, e), on in zip(E, mask): e.enabled = bool(on)
        game = Game(masked_value(model, x, y, set_mask, 'loglik'), n)
        phi = exact_shapley(game, n) if method == 'exact' else shap_values(game, n, nsamples, method, seed)
    return phi, time.perf_counter() - t0, game.evaluations, game


def toy_run(n, method, nsamples=None, seed=0):
    game = Game(toy_game(n), n)
    t0 = time.perf_counter()
    phi = exact_shapley(game, n) if method == 'exact' else shap_values(game, n, nsamples, method, seed)
    return phi, time.perf_counter() - t0, game.evaluations


def spearman(a, b):
    r = spearmanr(a, b).statistic
    return float(r) if np.isfinite(r) else float('nan')


def plot_shap(toy_n, real_n, toy_s, real_s, agree, n_agree, budget, path, title):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 3, figsize=(13, 3.8), layout='constrained')
    cols = {'exact': 'k', 'kernel': 'tab:blue', 'permutation': 'tab:orange'}
    ax = axs[0]
    for meth, c in cols.items():
        pts = [(n, med(v[0])) for (n, m), v in toy_n.items() if m == meth]
        if pts: ax.plot(*zip(*sorted(pts)), 'o--', color=c, mfc='none', label=f"{meth}, toy")
        pts = [(n, v[1]) for (n, m), v in real_n.items() if m == meth]
        if pts: ax.plot(*zip(*sorted(pts)), 's-', color=c, label=f"{meth}, BonsaiNet")
    ax.set_yscale('log'); ax.set_xlabel('edges (players) n'); ax.set_ylabel('seconds')
    ax.set_title(f"cost against edges (shap: nsamples={budget})", fontsize=8); ax.legend(fontsize=6); ax.grid(alpha=0.3)
    ax = axs[1]
    for meth in ('kernel', 'permutation'):
        pts = sorted((s, med(v)) for (s, m), v in toy_s.items() if m == meth)
        ax.plot(*zip(*pts), 'o--', color=cols[meth], mfc='none', label=f"{meth}, toy")
        pts = sorted((s, v[1]) for (s, m), v in real_s.items() if m == meth)
        if pts: ax.plot(*zip(*pts), 's-', color=cols[meth], label=f"{meth}, BonsaiNet")
    ex = real_n.get((n_agree, 'exact'))
    if ex: ax.axhline(ex[1], color='k', lw=0.8, ls=':', label=f"exact, BonsaiNet ({ex[2]} evaluations)")
    ax.set_xscale('log', base=2); ax.set_yscale('log'); ax.set_xlabel('nsamples'); ax.set_ylabel('seconds')
    ax.set_title(f"cost against samples, n = {n_agree}", fontsize=8); ax.legend(fontsize=6); ax.grid(alpha=0.3)
    ax = axs[2]
    for meth in ('kernel', 'permutation'):
        ss = sorted({s for s, m in agree if m == meth})
        v = [np.array(agree[(s, meth)]) for s in ss]
        ax.plot(ss, [np.nanmedian(a) for a in v], 'o-', color=cols[meth], label=meth)
        ax.fill_between(ss, [np.nanmin(a) for a in v], [np.nanmax(a) for a in v], color=cols[meth], alpha=0.2, lw=0)
    ax.set_xscale('log', base=2); ax.set_ylim(-0.2, 1.05); ax.set_xlabel('nsamples'); ax.set_ylabel('Spearman ρ with exact')
    ax.set_title(f"agreement with exact Shapley values, BonsaiNet, n = {n_agree}", fontsize=8); ax.legend(fontsize=7); ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches='tight'); plt.close(fig)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=3, help='random candidates scored per model size (median reported)')
    ap.add_argument('--mutations', default='0,10,30', help='triangular mutations applied before scoring, comma-separated')
    ap.add_argument('--ntk-batch', type=int, default=16, help='images in the NTK batch (TE-NAS: 16)')
    ap.add_argument('--lrc-samples', type=int, default=3000, help='3×3 crops for the region count (TE-NAS: 3000)')
    ap.add_argument('--shap-repeats', type=int, default=3, help='repeats of each toy SHAP timing (the BonsaiNet ones run once)')
    ap.add_argument('--agree-n', type=int, default=10, help='edges for the exact-against-shap agreement')
    ap.add_argument('--seeds', type=int, default=5, help='shap seeds for the agreement')
    ap.add_argument('--epochs', type=int, default=5, help='training epochs of the SHAP BonsaiNet')
    ap.add_argument('--threads', type=int, default=1, help='torch threads')
    ap.add_argument('--quick', action='store_true', help='a tiny run for the smoke test')
    ap.add_argument('--out', default=None, help='markdown file to write the sections to (default: BENCHMARKS.md)')
    ap.add_argument('--figure-dir', default=None, help='folder for the figures (default: benchmarks/figures)')
    a = ap.parse_args(argv)
    mutations = [int(v) for v in a.mutations.split(',')]
    budget = 256
    toy_ns, real_ns = [4, 8, 12, 16, 24, 32], [2, 4, 6, 8, 10]
    toy_samples, real_samples = [32, 64, 128, 256, 512, 1024, 2048], [32, 128, 512]
    if a.quick:
        a.repeats, mutations, a.lrc_samples, a.shap_repeats, a.agree_n, a.seeds, a.epochs = 1, [0, 2], 500, 1, 4, 2, 1
        toy_ns, real_ns, toy_samples, real_samples, budget = [4, 8], [2, 4], [16, 64], [16], 64
    if a.repeats < 1 or a.shap_repeats < 1 or a.seeds < 1 or not mutations or min(mutations) < 0:
        ap.error('need --repeats, --shap-repeats, --seeds >= 1 and mutation counts >= 0')
    if a.agree_n not in real_ns: real_ns = sorted(set(real_ns) | {a.agree_n})
    torch.set_num_threads(a.threads)
    cmd = ('python benchmarks/bench_proxies.py ' + ' '.join(argv if argv is not None else sys.argv[1:])).strip()
    out = Path(a.out) if a.out else None
    figs = Path(a.figure_dir) if a.figure_dir else ROOT / 'benchmarks' / 'figures'
    t_start = time.perf_counter(); load0 = os.getloadavg()[0]
    dev = 'CPU, 1 torch thread' if a.threads == 1 else f'CPU, {a.threads} torch threads'

    # 1. NTK-LRC
    t0 = time.perf_counter()
    rows, res, base, t_warm = ntk_lrc_part(mutations, a.repeats, a.ntk_batch, a.lrc_samples)
    fig1 = plot_ntk(res, figs / 'ntk_lrc_cost.png', f"slim SpiderNet (3 cells, 1 channel), {dev}; median of {a.repeats}, bar: min–max")
    kmax = max(mutations)
    singular = sum(c['on'].status != 'ok' for v in res.values() for c in v)
    eval_ok = sum(c['eval'].status == 'ok' for v in res.values() for c in v)
    n_cand = sum(len(v) for v in res.values())
    body1 = (f"Algorithm 5 (§5.4.1), lines 3–8, for one random candidate: S' = a copy of the slim model S with a triangular "
             f"mutation of an edge u->v drawn uniformly from the model (`w = cell.add_node(before=v)`, edges u->w and w->v), "
             f"S'_on = S', S'_off = a copy of S' with the two new edges disconnected (`enabled = False`), and for both twins "
             f"`ntk_lrc_score`: κ of the empirical NTK (train-mode BatchNorm, all parameters, float64 gradients by `torch.func`, as `nasbook.spider.ntk_lrc_select` computes them) "
             f"on {a.ntk_batch} digit images, and the linear regions of the same twin rebuilt for 3×3 inputs (same weights) on "
             f"{a.lrc_samples} 3×3 crops of digit images (TE-NAS's input). The slim model is "
             f"`BonsaiNet((1, 8, 8), 10, scale=1, sections=['N', 'R', 'R'], handler='all', connect='minimal')` (channels 1, 2, 4), "
             f"after {', '.join(map(str, mutations))} random triangular mutations (seeded). Every repeat scores a new random "
             f"candidate; {a.repeats} repeats, interleaved over the model sizes, after one warm-up candidate (the first call of "
             f"the `torch.func` Jacobian took {t_warm:.1f} s for the whole candidate); {dev}, load average {load0:.1f} at the start.\n\n"
             + '\n'.join(rows) + '\n\n'
             f"![seconds per candidate]({rel(fig1, out)})\n\n"
             f"One candidate costs {med([c['total'] for c in res[mutations[0]]]):.1f} s at {mutations[0]} mutations and "
             f"{med([c['total'] for c in res[kmax]]):.1f} s at {kmax} on this CPU; the thesis reports {THESIS_NTK} for a model "
             f"comparable in size to BonsaiNet's (a candidate needs two). κ was not finite for the on twin of "
             f"{singular} of {n_cand} candidates (status 'singular': λmin below N·eps·λmax; such a twin is never accepted); with "
             f"train-mode BatchNorm (TE-NAS's and `ntk_lrc_score`'s default) Algorithm 5 accepted "
             f"{sum(c['accept'] for v in res.values() for c in v)} of the {n_cand}. The same on twins in eval mode (running "
             f"statistics; computed after the timing, not counted) had a finite κ in {eval_ok} of {n_cand}"
             + (": the singular kernels come with the batch statistics (train-mode BatchNorm couples the samples), not with "
                "the architecture alone.\n\n" if eval_ok > n_cand - singular else ".\n\n") +
             f"Part time: {time.perf_counter() - t0:.0f} s.\n")
    write_section('ntk-lrc', 'Proxies: NTK κ + linear regions of one SpiderNet mutation candidate', cmd, body1, out)
    print(body1)

    # 2. SHAP
    t0 = time.perf_counter()
    toy_n = {}
    for n in toy_ns:
        for meth in (['exact'] if n <= 16 else []) + ['kernel', 'permutation']:
            toy_run(n, meth, None if meth == 'exact' else budget)   # warm-up
            runs = [toy_run(n, meth, None if meth == 'exact' else budget) for _ in range(a.shap_repeats)]
            toy_n[(n, meth)] = ([r[1] for r in runs], runs[0][2])
    toy_s = {}
    for s in toy_samples:
        for meth in ('kernel', 'permutation'):
            toy_s[(s, meth)] = [toy_run(a.agree_n, meth, s)[1] for _ in range(a.shap_repeats)]
    t_model = time.perf_counter()
    model, xb, yb, acc = shap_model(a.epochs)
    t_model = time.perf_counter() - t_model
    model.eval()
    real_n = {}
    for n in real_ns:
        for meth in ('exact', 'kernel', 'permutation'):
            phi, sec, ev, game = real_run(model, xb, yb, n, meth, None if meth == 'exact' else max(budget, 2 * n + 1))
            real_n[(n, meth)] = (phi, sec, ev)
            if n == a.agree_n and meth == 'exact': table, exact = dict(game.cache), phi
    real_s = {}
    for s in real_samples:
        for meth in ('kernel', 'permutation'):
            phi, sec, ev, _ = real_run(model, xb, yb, a.agree_n, meth, s)
            real_s[(s, meth)] = (phi, sec, ev)
    # agreement: shap on a lookup of the exact run's coalition values (the same numbers the model gives, at no forward cost)
    lookup = lambda m: table[np.asarray(m, bool).tobytes()]
    agree, same = {}, True
    for s in toy_samples:
        if s < 2 * a.agree_n + 1: continue
        for meth in ('kernel', 'permutation'):
            ests = [shap_values(lookup, a.agree_n, s, meth, seed) for seed in range(a.seeds)]
            agree[(s, meth)] = [spearman(exact, e) for e in ests]
            if (s, meth) in real_s: same &= bool(np.allclose(ests[0], real_s[(s, meth)][0]))
    fig2 = plot_shap(toy_n, real_n, toy_s, real_s, agree, a.agree_n, budget, figs / 'shap_cost.png',
                     f"SHAP cost and accuracy; {dev}")
    rows_n = [f'| n edges | value function | exact: s (evaluations) | kernel, nsamples={budget}: s (evaluations) | '
              f'permutation, max_evals={budget}: s (evaluations) |', '|---|---|---|---|---|']
    f_toy = lambda n, m: (f"{med(toy_n[(n, m)][0]):.3f} ({toy_n[(n, m)][1]})" if (n, m) in toy_n else '—')
    f_real = lambda n, m: (f"{real_n[(n, m)][1]:.2f} ({real_n[(n, m)][2]})" if (n, m) in real_n else '—')
    for n in sorted(set(toy_ns) | set(real_ns)):
        if any(k[0] == n for k in toy_n): rows_n.append(f"| {n} | toy | {f_toy(n, 'exact')} | {f_toy(n, 'kernel')} | {f_toy(n, 'permutation')} |")
        if any(k[0] == n for k in real_n): rows_n.append(f"| {n} | BonsaiNet | {f_real(n, 'exact')} | {f_real(n, 'kernel')} | {f_real(n, 'permutation')} |")
    rows_s = [f'| nsamples | toy kernel s | toy permutation s | BonsaiNet kernel s (evaluations) | BonsaiNet permutation s (evaluations) | '
              f'Spearman ρ with exact, kernel: median (min–max) | permutation: median (min–max) |', '|---|---|---|---|---|---|---|']
    fa = lambda s, m: (f"{np.nanmedian(agree[(s, m)]):.3f} ({np.nanmin(agree[(s, m)]):.3f}–{np.nanmax(agree[(s, m)]):.3f})"
                       if (s, m) in agree else '—')
    fr = lambda s, m: (f"{real_s[(s, m)][1]:.2f} ({real_s[(s, m)][2]})" if (s, m) in real_s else '—')
    for s in toy_samples:
        rows_s.append(f"| {s} | {med(toy_s[(s, 'kernel')]):.3f} | {med(toy_s[(s, 'permutation')]):.3f} | {fr(s, 'kernel')} | "
                      f"{fr(s, 'permutation')} | {fa(s, 'kernel')} | {fa(s, 'permutation')} |")
    ex = real_n[(a.agree_n, 'exact')]
    per_eval = ex[1] / ex[2]
    first_k = {m: next((s for s in sorted({s for s, mm in agree if mm == m}) if np.nanmin(agree[(s, m)]) >= 0.9), None)
               for m in ('kernel', 'permutation')}
    body2 = (f"Toy: a weighted game (a sigmoid of a random weighted sum plus random pairwise terms; microseconds per "
             f"coalition), so its times are shap's and the enumeration's own overhead; median of {a.shap_repeats} repeats after a "
             f"warm-up. BonsaiNet: `BonsaiNet((1, 8, 8), 10, scale=4, sections=['N', 'R'], nodes=3, depth=2, "
             f"ops=['skip_connect', 'max_pool_3x3', 'sep_conv_3x3'])` (14 edges) trained {a.epochs} epoch(s) on digits "
             f"(validation top-1 {acc:.3f}; {t_model:.0f} s), value = mean log-likelihood (`metric='loglik'`; accuracy would tie many coalitions and blur the rank comparison) on a fixed batch of 64 training images in eval mode, "
             f"players = its first n edges (the others stay on); the calls `edge_importance` makes (`masked_value` in a `Game`, "
             f"then `exact_shapley` or `shap_values`), each timed once. Evaluations = distinct coalitions the `Game` computed "
             f"(it memoises), i.e. forward passes; here {1e3 * per_eval:.0f} ms each on average at n = {a.agree_n}. "
             f"`nsamples` is KernelExplainer's coalition budget and the Permutation explainer's `max_evals`; shap's seed 0; {dev}.\n\n"
             + '\n'.join(rows_n) + '\n\n'
             f"At n = {a.agree_n} edges of the BonsaiNet, against the exact values (2^{a.agree_n} = {2 ** a.agree_n} coalitions, "
             f"{ex[1]:.1f} s): Spearman ρ of shap's estimates over seeds 0..{a.seeds - 1}, computed on a lookup table of the exact "
             f"run's coalition values — the numbers the model returns, without the forward passes"
             + (" (checked: identical estimates to the timed BonsaiNet runs)" if same else " (WARNING: they differ from the timed runs)") + ".\n\n"
             + '\n'.join(rows_s) + '\n\n'
             f"![SHAP cost and agreement]({rel(fig2, out)})\n\n"
             f"On a real network the cost is the forward passes: the `Game`'s cache caps kernel SHAP at the 2^n coalitions, so at "
             f"n = {a.agree_n} kernel SHAP with nsamples ≥ {2 ** a.agree_n} costs what exact enumeration costs. "
             f"ρ ≥ 0.9 for every seed from nsamples = " + ', '.join(f"{first_k[m] if first_k[m] else 'never (in this range)'} ({m})" for m in first_k)
             + f".\n\nPart time: {time.perf_counter() - t0:.0f} s. Whole benchmark: {time.perf_counter() - t_start:.0f} s "
             f"(load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end).\n")
    p = write_section('shap', 'Shapley edge importance: cost against edges and samples, agreement with exact values', cmd, body2, out)
    print(body2); print(f"written to {p}; figures {fig1}, {fig2}")
    return res, real_n, agree


if __name__ == '__main__':
    main()

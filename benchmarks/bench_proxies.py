"""Cost and value of the train-free proxies and cost of Shapley edge importance: seconds to score one SpiderNet mutation
candidate with NTK κ + linear regions on the slim model (Algorithm 5's on and off twins, the old recipe against TE-NAS'
in the same run), κ and LRC against trained accuracy over many random SpiderNet architectures (Kendall τ, p-values,
bootstrap intervals), and SHAP seconds against the number of edges and of samples.

    python benchmarks/bench_proxies.py [--repeats 3] [--mutations 0,10,30] [--lrc-samples 3000] [--archs 64] [--epochs-tau 3]
                                       [--parts ntk,tau,shap] [--threads 1] [--quick] [--out BENCHMARKS.md] [--figure-dir ...]
"""
import argparse, copy, math, os, random, statistics, sys, time, warnings
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr, rankdata

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section, ROOT
from nasbook.core import set_seed, derive_seed
from nasbook.data import get_dataset
from nasbook.cells import CellSupernet
from nasbook.proxies import ntk_lrc_score, ntk_condition, accept_mutation, joint_rank, ProxyWarning, ProxySettings
from nasbook.ntk_lrc import slim_model, lrc_copy, lrc_crops, ntk_lrc_select
from nasbook.spider import spider_model, random_mutations, random_deadheads, reinitialize
from nasbook.shapley import Game, exact_shapley, shap_values, masked_value, masked_edges
from nasbook.train import Trainer

THESIS_NTK = "about a minute per model on GPU (§5.4.1)"
OLD = ProxySettings(params='all', lrc_batch=None, lrc_ndim=None, double=True)   # what Algorithm 5 used before issue 16
TENAS_TAU = {'kappa': -0.42, 'lrc': 0.50, 'joint': 0.64}   # TE-NAS on NAS-Bench-201 CIFAR-100, as the thesis quotes it (§5.2.3-5.2.5)


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


def score_candidate(S, x, crops, rng, preset='tenas'):
    "Algorithm 5, lines 3-8, for one random candidate: S' = mutated copy, S'_on and S'_off twins, κ + LRC of both."
    t0 = time.perf_counter()
    on = copy.deepcopy(S); i, new = triangular(on, rng)
    lrc_on = lrc_copy(on, crops.shape[-1])
    t1 = time.perf_counter()
    s_on = ntk_lrc_score(on, x, lrc_model=lrc_on, lrc_x=crops, preset=preset)
    edges = [m.cells[i].edges[k] for m in (on, lrc_on) for k in new]
    for e in edges: e.enabled = False      # S'_off: the same twin with the new edges disconnected (it computes S); no copy
    s_off = ntk_lrc_score(on, x, lrc_model=lrc_on, lrc_x=crops, preset=preset)
    for e in edges: e.enabled = True
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
    sel, cpu, each = {k: [] for k in mutations}, {k: [] for k in mutations}, {k: [] for k in mutations}
    for r in range(repeats):   # interleaved over the model sizes and the two recipes; a new random candidate every repeat
        for k in (mutations if r % 2 == 0 else mutations[::-1]):
            sd = derive_seed(r, k)
            new, old = score_candidate(base[k], x, crops, random.Random(sd)), score_candidate(base[k], x, crops, random.Random(sd), OLD)
            res[k].append(dict(new=new, old=old))
            e = random.Random(sd).choice([n for n, _ in base[k].edges()])
            c0 = time.process_time()
            ch = ntk_lrc_select(base[k], x, n_good=1, seed=r, edges=[e], lrc_x=crops, details=True)   # the search's path, off='once'
            sel[k].append(ch.trials[0]['seconds']); cpu[k].append(time.process_time() - c0)
            ch = ntk_lrc_select(base[k], x, n_good=1, seed=r, edges=[e], lrc_x=crops, off='each', details=True)   # both twins, as line 6 reads
            each[k].append(ch.trials[0]['seconds'])
    rows = ['| mutations done | nodes / edges / live ops | params (slim) | old recipe: s per candidate, both twins, median (min–max) | '
            'TE-NAS preset: s per candidate, both twins | `ntk_lrc_select(off=\'each\')`: s per candidate, both twins | `ntk_lrc_select`: s per candidate (S\'_off once) | same, CPU s of the whole call (S + candidate) | κ status on / off | '
            'LRC on / off (median) | dead NTK samples on / off (median) | accepted | thesis |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|']
    for k in mutations:
        S, v = base[k], res[k]
        f = lambda t: f"{med(t):.2f} ({min(t):.2f}–{max(t):.2f})"
        new = [c['new'] for c in v]
        st_on = '/'.join(sorted({c['on'].status for c in new})); st_off = '/'.join(sorted({c['off'].status for c in new}))
        rows.append(f"| {k} | {sum(len(c.order) for c in S.cells)} / {len(S.edges())} / {S.n_live_ops()} | "
                    f"{sum(p.numel() for p in S.parameters()):,} | {f([c['old']['total'] for c in v])} | {f([c['total'] for c in new])} | "
                    f"{f(each[k])} | {f(sel[k])} | {f(cpu[k])} | {st_on} / {st_off} | {med([c['on'].lrc for c in new]):.0f} / {med([c['off'].lrc for c in new]):.0f} | "
                    f"{med([len(c['on'].dead) for c in new]):.0f} / {med([len(c['off'].dead) for c in new]):.0f} | "
                    f"{sum(c['accept'] for c in new)} of {len(new)} | {'≈60 s per model, GPU' if k == mutations[0] else ''} |")
    return rows, res, sel, cpu, each, base, t_warm


# ---------------------------------------------------------------- 2. κ and LRC against trained accuracy
def tau_part(n_archs, epochs, n_lrc, seed=0, quick=False):
    "Random SpiderNet architectures (k mutations, a random share deadheaded), proxies at initialisation, then trained on digits."
    from scipy.stats import kendalltau
    from nasbook.train import Trainer
    D = get_dataset('digits', valid_frac=0.3, fraction=0.6)
    X = D.train.tensors[0]; x = X[:32]; crops = lrc_crops(X, n_lrc, seed=seed)
    ops = ['skip_connect', 'max_pool_3x3', 'sep_conv_3x3', 'dil_conv_3x3']
    rows = []
    rg = np.random.default_rng(seed)
    for j in range(n_archs):
        k, frac = int(rg.integers(0, 11)), float(rg.uniform(0, 0.4))
        set_seed(derive_seed(seed, 'model', j))
        m = spider_model(D.input_shape, scale=4 if quick else 8, ops=ops)
        random_mutations(m, k, seed=j)
        random_deadheads(m, int(frac * m.n_live_ops()), seed=j)
        reinitialize(m, seed=derive_seed(seed, 'init', j))
        torch.manual_seed(j); S = slim_model(m)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', ProxyWarning)
            keep = ntk_condition(S, x, params='weight', details=True)
            drop = ntk_condition(S, x, params='weight', dead_samples='drop', details=True)
        lrc = ntk_lrc_score(S, x, lrc_model=lrc_copy(S), lrc_x=crops).lrc
        tdl, vdl, tedl = D.loaders(32, seed=j)
        tr = Trainer(m, tdl, vdl, epochs=epochs, lr=0.1, progress=False).fit()
        rows.append(dict(k=k, params=sum(p.numel() for p in m.parameters()), kappa=keep.kappa, kappa_drop=drop.kappa,
                         dead=len(keep.dead), lrc=lrc, acc=tr.evaluate(tedl)['top1']))
    acc = np.array([r['acc'] for r in rows])
    def tau(v, n_boot=1000):
        v = np.asarray(v, float); v = np.where(np.isnan(v), np.inf, v)
        r = kendalltau(rankdata(v), acc)
        b = np.random.default_rng(seed)
        boots = []
        for _ in range(n_boot):
            i = b.integers(0, len(v), len(v))
            if len(set(v[i])) > 1 and len(set(acc[i])) > 1: boots.append(kendalltau(rankdata(v[i]), acc[i]).statistic)
        lo, hi = np.percentile(boots, [2.5, 97.5])
        return float(r.statistic), float(r.pvalue), float(lo), float(hi)
    joint = -joint_rank([r['kappa'] for r in rows], [r['lrc'] for r in rows])
    joint_d = -joint_rank([r['kappa_drop'] for r in rows], [r['lrc'] for r in rows])
    res = {'κ, dead samples kept (TE-NAS; κ = ∞ ranked last)': (tau([r['kappa'] for r in rows]), TENAS_TAU['kappa']),
           'κ, dead samples dropped': (tau([r['kappa_drop'] for r in rows]), TENAS_TAU['kappa']),
           f'LRC ({n_lrc:,} 3×3 crops, one-channel copy)': (tau([r['lrc'] for r in rows]), TENAS_TAU['lrc']),
           'joint: −(rank κ + rank −LRC), κ kept': (tau(joint), TENAS_TAU['joint']),
           'joint, κ dropped': (tau(joint_d), TENAS_TAU['joint']),
           'parameters (naive)': (tau([r['params'] for r in rows]), None)}
    return rows, res


def plot_ntk(res, path, title):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    ks = list(res); xs = np.arange(len(ks))
    parts = [('build', 'copies, mutation, 3×3 copies'), ('ntk', 'κ (both twins)'), ('lrc', 'LRC (both twins)')]
    fig, ax = plt.subplots(figsize=(5.4, 3.4)); bottom = np.zeros(len(ks))
    for key, lab in parts:
        h = np.array([med([c['new'][key] for c in res[k]]) for k in ks])
        ax.bar(xs, h, 0.55, bottom=bottom, label=lab); bottom += h
    for xi, k in zip(xs, ks):
        t = [c['new']['total'] for c in res[k]]
        ax.plot([xi + 0.3], [med([c['old']['total'] for c in res[k]])], 'kx', label='old recipe (both twins)' if xi == 0 else None)
        ax.errorbar([xi], [med(t)], yerr=[[med(t) - min(t)], [max(t) - med(t)]], color='k', capsize=4, lw=1)
    ax.axhline(60, color='tab:red', ls='--', lw=1)
    ax.text(xs[-1] + 0.3, 61, 'thesis: ≈60 s per model (GPU)', color='tab:red', fontsize=7, va='bottom', ha='right')
    ax.set_xticks(xs, [f"{k} mutations" for k in ks]); ax.set_ylabel('seconds per candidate (median)')
    ax.set_yscale('log'); ax.set_ylim(0.1, 100); ax.set_title(title, fontsize=8); ax.legend(fontsize=7, loc='upper left')
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
    ap.add_argument('--archs', type=int, default=64, help='random architectures trained for the rank correlations')
    ap.add_argument('--epochs-tau', type=int, default=3, help='training epochs of each architecture of the rank correlations')
    ap.add_argument('--parts', default='ntk,tau,shap', help='parts to run, comma-separated: ntk, tau, shap')
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
        a.archs, a.epochs_tau = 6, 1
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
    parts = set(a.parts.split(','))
    if not parts <= {'ntk', 'tau', 'shap'}: ap.error(f"--parts takes ntk, tau, shap; got {a.parts}")
    if 'ntk' in parts: ntk_section(a, mutations, figs, out, cmd, dev, load0)
    if 'tau' in parts: tau_section(a, out, cmd, dev)
    if 'shap' in parts: return shap_section(a, budget, toy_ns, real_ns, toy_samples, real_samples, figs, out, cmd, dev, load0, t_start)


def ntk_section(a, mutations, figs, out, cmd, dev, load0):

    t0 = time.perf_counter()
    rows, res, sel, cpu, each, base, t_warm = ntk_lrc_part(mutations, a.repeats, a.ntk_batch, a.lrc_samples)
    fig1 = plot_ntk(res, figs / 'ntk_lrc_cost.png', f"slim SpiderNet (3 cells, 1 channel), {dev}; TE-NAS preset, median of {a.repeats}, bar: min–max; x: old recipe")
    kmax = max(mutations)
    new = [c['new'] for v in res.values() for c in v]
    n_cand = len(new)
    singular = sum(c['on'].status != 'ok' for c in new)
    dead_sing = sum(c['on'].status == 'singular' and len(c['on'].dead) > 0 for c in new)
    m0 = lambda k, key: med([c[key]['total'] for c in res[k]])
    body1 = (f"Algorithm 5 (§5.4.1), lines 3–8, for one random candidate: S' = a copy of the slim model S with a triangular "
             f"mutation of an edge u->v drawn uniformly from the model (`w = cell.add_node(before=v)`, edges u->w and w->v), "
             f"S'_on = S', S'_off = S' with the two new edges disconnected (`enabled = False` while it is measured: the same weights as a copy would have, without copying), and for both twins "
             f"`ntk_lrc_score`: κ of the empirical NTK on {a.ntk_batch} digit images and the linear regions of the twin's one-channel "
             f"copy for 3×3 inputs (`lrc_copy`, same weights) on {a.lrc_samples} 3×3 crops of digit images (TE-NAS' input). "
             f"Two recipes in the same run, on the same candidates: the **old** one Algorithm 5 used before issue 16 (all parameters, "
             f"float64 gradients, every ReLU, one forward batch) and the **TE-NAS preset** it uses now (`PRESETS['tenas']`: parameters "
             f"named `weight`, float32 gradients with the singular threshold (N·ε32)², ReLUs on 4-D maps only, forward batches of 1,000, "
             f"train-mode BatchNorm). `ntk_lrc_select(off='each')` is the package's path for the same thing (both twins, the one-channel copy built once per candidate). "
             f"The last timing column is what the search pays per candidate: `ntk_lrc_select` measures S'_off "
             f"once per call (it computes S; 33_ntk_lrc tests that both ways give the same trials), so a candidate costs its on twin. "
             f"The slim model is `CellSupernet((1, 8, 8), 10, scale=1, sections=['N', 'R', 'R'], handler='all', connect='minimal')` "
             f"(channels 1, 2, 4, the 7 DARTS operations per edge), after {', '.join(map(str, mutations))} random triangular mutations "
             f"(seeded). {a.repeats} repeats, interleaved, after one warm-up candidate ({t_warm:.1f} s); {dev}, load average "
             f"{load0:.1f} at the start{' (other jobs shared the 2 cores)' if load0 > 1 else ''}.\n\n"
             + '\n'.join(rows) + '\n\n'
             f"![seconds per candidate]({rel(fig1, out)})\n\n"
             f"At {mutations[0]} mutations a candidate costs {m0(mutations[0], 'old'):.2f} s with the old recipe and "
             f"{m0(mutations[0], 'new'):.2f} s with the TE-NAS preset (both twins measured; {med(each[mutations[0]]):.2f} s in `ntk_lrc_select(off='each')`), {med(sel[mutations[0]]):.2f} s in "
             f"`ntk_lrc_select` (on twin only; {med(cpu[mutations[0]]):.2f} CPU seconds for the whole call, S included); at {kmax}: {m0(kmax, 'old'):.2f}, {m0(kmax, 'new'):.2f}, {med(each[kmax]):.2f} and {med(sel[kmax]):.2f} s. "
             f"The thesis reports {THESIS_NTK}. Before issue 16 this section recorded 4.45 s at 0 mutations, 12.4 s at 10 and "
             f"26.3 s at 30 (float32, all parameters, 16 NTK images, load 4.6; 2026-11-23), and the issue measured 1.3–2.0 s at 0. "
             f"With the TE-NAS preset κ was not finite for {singular} of {n_cand} on twins, {dead_sing} of them singular because of "
             f"dead NTK samples (logits = output bias alone; with `weight`-only parameters one such sample zeroes a row of J), none "
             f"for want of float32 precision. Region counts are far below the {a.lrc_samples} crops and differ between twins, so "
             f"LRC takes part in the accept test.\n\nPart time: {time.perf_counter() - t0:.0f} s.\n")
    write_section('ntk-lrc', 'Proxies: NTK κ + linear regions of one SpiderNet mutation candidate', cmd, body1, out)
    print(body1)


def tau_section(a, out, cmd, dev):
    t0 = time.perf_counter()
    rows, res = tau_part(a.archs, a.epochs_tau, a.lrc_samples, quick=a.quick)
    acc = [r['acc'] for r in rows]
    tab = ['| proxy | expected sign | Kendall τ with test accuracy | p-value | 95 % bootstrap interval | TE-NAS τ (NAS-Bench-201, CIFAR-100) |',
           '|---|---|---|---|---|---|']
    for name, ((t, p, lo, hi), ref) in res.items():
        sign = '−' if name.startswith('κ') else ('+' if not name.startswith('param') else '?')
        tab.append(f"| {name} | {sign} | {t:+.3f} | {p:.3g} | [{lo:+.2f}, {hi:+.2f}] | {'' if ref is None else f'{ref:+.2f}'} |")
    n_inf = sum(math.isinf(r['kappa']) for r in rows); n_dead = sum(r['dead'] > 0 for r in rows)
    body = (f"{len(rows)} random architectures of the SpiderNet walkthrough's space on digits (the minimal model, 4 of the 7 "
            f"operations, scale {4 if a.quick else 8}, 0–10 random triangular mutations, 0–40 % of the operations deadheaded at "
            f"random, re-initialised). At initialisation, on the slim copy (`slim_model`, one channel): κ with the TE-NAS preset on "
            f"32 training images, with dead samples kept (κ = ∞ when they make the kernel singular; ranked last) and dropped, and the "
            f"linear regions of its one-channel 3×3 copy on {a.lrc_samples} crops. Then each full model trains {a.epochs_tau} epochs "
            f"(SGD 0.1, batch 32) on 60 % of digits and is tested on its test split (accuracy {min(acc):.3f}–{max(acc):.3f}). "
            f"Kendall τ by `scipy.stats.kendalltau` (two-sided p), 95 % percentile intervals from 1,000 bootstrap resamples of the "
            f"architectures. TE-NAS' τ are the values the thesis quotes from Chen et al. (2021) for NAS-Bench-201 on CIFAR-100 "
            f"(§5.2.3, Fig. 5.1: −0.42; §5.2.4, Fig. 5.4: 0.50; §5.2.5: 0.64) — 15,625 fully trained networks, not {len(rows)} briefly "
            f"trained ones. {n_inf} of {len(rows)} slim kernels were singular with dead samples kept ({n_dead} had dead samples); "
            f"{dev}.\n\n" + '\n'.join(tab) + f"\n\nPart time: {time.perf_counter() - t0:.0f} s.\n")
    write_section('proxy-tau', 'Proxies: κ and linear regions against trained accuracy', cmd, body, out)
    print(body)


def shap_section(a, budget, toy_ns, real_ns, toy_samples, real_samples, figs, out, cmd, dev, load0, t_start):
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
    print(body2); print(f"written to {p}; figure {fig2}")
    return real_n, agree


if __name__ == '__main__':
    main()

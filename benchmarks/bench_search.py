"""Search strategies compared on nasbook's tabulated benchmarks (nasbook.tabular): median regret over many search seeds
against evaluations and against simulated training time, evaluations to come within 0.5 pp and 1 pp of the table's
optimum, and the spline proposing q = 1, 2, 4 points per round. No training: every value comes from the tables.

    python benchmarks/bench_search.py [--seeds 20] [--budget 30] [--quick] [--no-gp] [--out BENCHMARKS.md]
                                      [--json benchmarks/results/search.json]
"""
import argparse, json, math, sys, time, warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section, ROOT
from nasbook.search import RandomSearch, OptunaStrategy, run_search
from nasbook.spline_search import SplineSearch
from nasbook.tabular import (load_table, TabularEvaluator, RegularizedEvolution, regret_curve, regret_at, evals_to_within,
                             quartiles, plot_table_2d)

TABLES = ('cnn2d-digits', 'cnn4d-digits', 'resnet5d-fashion')
# discrete_max=1: every width is a spline dimension (the 4-D table has 3 values per width; the default would split them)
STRATEGIES = {
    'random': lambda sp, s: RandomSearch(sp, seed=s),
    'TPE (Optuna)': lambda sp, s: OptunaStrategy(sp, seed=s, sampler='tpe'),
    'GP (Optuna GPSampler)': lambda sp, s: OptunaStrategy(sp, seed=s, sampler='gp'),
    'regularised evolution': lambda sp, s: RegularizedEvolution(sp, seed=s, population=10, sample_size=3),
    'spline, Algorithm 1': lambda sp, s: SplineSearch(sp, seed=s, eps=1e-3, discrete_max=1),
    'spline, no stop': lambda sp, s: SplineSearch(sp, seed=s, eps=0., discrete_max=1),
    'spline, noise-aware': lambda sp, s: SplineSearch(sp, seed=s, eps=1e-3, discrete_max=1, smoothing='loo', stop='noise'),
    'spline, noise-aware, 3 hits': lambda sp, s: SplineSearch(sp, seed=s, eps=1e-3, discrete_max=1, smoothing='loo', stop='noise', stop_hits=3),
    'spline, smoothing, no stop': lambda sp, s: SplineSearch(sp, seed=s, eps=0., discrete_max=1, smoothing='loo'),
    # ours (issue 22): the spline's kriging posterior; smoothing 'gcv' (the default for these acquisitions), no stop
    'spline + EI': lambda sp, s: SplineSearch(sp, seed=s, eps=0., discrete_max=1, acquisition='ei'),
    'spline + UCB': lambda sp, s: SplineSearch(sp, seed=s, eps=0., discrete_max=1, acquisition='ucb'),
}
SPLINES = [k for k in STRATEGIES if k.startswith('spline')]


def nasrl_controller(sp, s):
    "NAS-RL's controller (nasbook.rl) over the table's grid: one categorical decision per width, REINFORCE with an EMA baseline."
    from nasbook.rl import ChoiceSpace, RLSearch
    grid = ChoiceSpace({d.name: list(range(d.low, d.high + 1, getattr(d, 'step', 1) or 1)) for d in sp.dims}, name=sp.name)
    # the papers' learning rate (6e-4) leaves the controller where it started within 30 children (BENCHMARKS.md,
    # "RL against random search"), so this uses 0.02 as bench_rl.py does; batches of m = 5 architectures
    return RLSearch(grid, seed=s, method='reinforce', batch=5, lr=0.02)

STRATEGIES['NAS-RL controller (REINFORCE)'] = nasrl_controller


COVERAGE = []

def coverage(strat, ev):
    "Fraction of the table's configurations whose true (mean-over-seeds) objective lies in the final posterior's 90 % interval."
    ci = 0; fit = strat._fit_posterior(ci)
    if fit is None: return float('nan')
    s = fit[0]; U = np.array([strat._unit(c) for c in ev.table.configs])
    m, sd = s.predict(U, return_std=True)
    return float(np.mean(np.abs(ev.true_values - m) <= 1.6449 * sd))


def plot_posterior(table, path, seed=0, budget=30):
    "One spline + EI search (noisy, MnasNet objective) on a 2-D table: posterior mean and std over the grid, replicates marked."
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    st = STRATEGIES['spline + EI'](table.space, seed); ev = TabularEvaluator(table, mode='seed', objective='mnas')
    run_search(st, ev, budget, seed=seed, progress=False)
    s = st._fit_posterior(0)[0]; (ka, va), (kb, vb) = table.grid.items()
    ga, gb = np.linspace(0, 1, 60), np.linspace(0, 1, 60); A, B = np.meshgrid(ga, gb)
    m, sd = s.predict(np.c_[A.ravel(), B.ravel()], return_std=True)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for a, Z, t in ((ax[0], m, 'posterior mean'), (ax[1], sd, 'posterior std')):
        im = a.contourf(A, B, Z.reshape(A.shape), 20, cmap='viridis' if t.endswith('mean') else 'magma'); plt.colorbar(im, ax=a)
        U, y, cnt, keys = st._support(0, counts=True)
        a.scatter(U[cnt == 1, 0], U[cnt == 1, 1], c='w', edgecolors='k', s=25, label='measured once')
        a.scatter(U[cnt > 1, 0], U[cnt > 1, 1], c='r', edgecolors='k', s=25 + 30 * cnt[cnt > 1], marker='s', label='replicated (size: count)')
        a.set_xlabel(f"{ka} (unit)"); a.set_ylabel(f"{kb} (unit)"); a.set_title(f"{table.name}, MnasNet, spline + EI seed {seed}: {t}", fontsize=8)
    ax[0].legend(fontsize=7, loc='lower right')
    fig.tight_layout(); fig.savefig(path, dpi=110); plt.close(fig)


def one_search(table, make, seed, budget, mode, objective='accuracy', batch=1):
    "Regret after each evaluation (padded with its last value when the strategy stopped early), cumulative cost, stop point."
    strat = make(table.space, seed)
    ev = TabularEvaluator(table, mode=mode, objective=objective)
    res = run_search(strat, ev, budget, seed=seed, batch_size=batch, progress=False)
    reg, cost = regret_curve(ev, res.records)
    if getattr(strat, 'acquisition', 'algorithm1') != 'algorithm1': COVERAGE.append(coverage(strat, ev))
    n = len(reg)
    if n < budget: reg, cost = np.r_[reg, np.full(budget - n, reg[-1])], np.r_[cost, np.full(budget - n, cost[-1])]
    return reg, cost, n


def compare(table, names, seeds, budget, mode, objective):
    out = {}
    for name in names:
        t0 = time.perf_counter(); R, C, N = [], [], []
        for s in range(seeds):
            r, c, n = one_search(table, STRATEGIES[name], s, budget, mode, objective); R.append(r); C.append(c); N.append(n)
        out[name] = {'regret': np.array(R), 'cost': np.array(C), 'stopped_at': N, 'seconds': time.perf_counter() - t0}
    return out


def fmt_evals(xs, budget):
    xs = sorted(xs); med = float(np.median(xs)); never = sum(math.isinf(x) for x in xs)
    m = f">{budget}" if math.isinf(med) else f"{med:g}"
    return f"{m} ({never} never)" if never else m


def table_rows(res, budget):
    marks = (budget // 3, 2 * budget // 3)
    rows = [f"| strategy | median regret after {marks[0]} / {marks[1]} / {budget} evals (pp) | IQR after {budget} (pp) | "
            "evals to within 1 pp: median | evals to within 0.5 pp: median | evals used before its own stop: median | s per search |",
            '|---|---|---|---|---|---|---|']
    for name, r in res.items():
        lo, med, hi = quartiles(r['regret'])
        e1 = [evals_to_within(x, 0.01) for x in r['regret']]; e05 = [evals_to_within(x, 0.005) for x in r['regret']]
        stop = np.median(r['stopped_at'])
        rows.append(f"| {name} | {100 * med[marks[0] - 1]:.2f} / {100 * med[marks[1] - 1]:.2f} / {100 * med[-1]:.2f} | "
                    f"{100 * lo[-1]:.2f}–{100 * hi[-1]:.2f} | {fmt_evals(e1, budget)} | {fmt_evals(e05, budget)} | "
                    f"{stop:g}{'' if stop < budget else ' (no stop)'} | {r['seconds'] / len(r['regret']):.2f} |")
    return rows


def summary(res):
    return {name: {'median_regret': quartiles(r['regret'])[1].tolist(), 'q25': quartiles(r['regret'])[0].tolist(),
                   'q75': quartiles(r['regret'])[2].tolist(), 'stopped_at': r['stopped_at'],
                   'evals_to_1pp': [evals_to_within(x, 0.01) for x in r['regret']],
                   'evals_to_05pp': [evals_to_within(x, 0.005) for x in r['regret']]} for name, r in res.items()}


COLORS = {'random': 'tab:gray', 'TPE (Optuna)': 'tab:blue', 'GP (Optuna GPSampler)': 'tab:purple', 'regularised evolution': 'tab:green',
          'spline, Algorithm 1': 'tab:orange', 'spline, no stop': 'tab:brown', 'spline, noise-aware': 'tab:red', 'spline, noise-aware, 3 hits': 'tab:olive',
          'spline, smoothing, no stop': 'tab:pink', 'NAS-RL controller (REINFORCE)': 'tab:cyan', 'spline + EI': 'black', 'spline + UCB': 'gold'}

def plot_regret(results, path, title):
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig, ax = plt.subplots(len(results), 2, figsize=(13, 4.2 * len(results)), squeeze=False)
    for i, (tn, res) in enumerate(results.items()):   # tn: 'table, objective'

        tmax = np.median([np.median(r['cost'][:, -1]) for r in res.values()])
        times = np.linspace(0, tmax, 200)
        for name, r in res.items():
            lo, med, hi = quartiles(r['regret']); x = np.arange(1, len(med) + 1)
            a = ax[i, 0]; a.plot(x, 100 * med, color=COLORS[name], label=name); a.fill_between(x, 100 * lo, 100 * hi, color=COLORS[name], alpha=.12)
            T = np.array([regret_at(times, rr, cc) for rr, cc in zip(r['regret'], r['cost'])])
            with warnings.catch_warnings():   # inf (nothing finished yet) early on: the band starts when a quarter of the seeds have a value
                warnings.simplefilter('ignore'); tlo, tmed, thi = quartiles(T)
            a = ax[i, 1]; a.plot(times, 100 * tmed, color=COLORS[name]); a.fill_between(times, 100 * tlo, 100 * thi, color=COLORS[name], alpha=.12)
        for a, xl in ((ax[i, 0], 'evaluations'), (ax[i, 1], 'simulated training time (s, recorded per architecture)')):
            a.set_yscale('symlog', linthresh=0.5); a.set_ylim(0, 30); a.axhline(1, color='k', lw=.6, ls=':'); a.axhline(.5, color='k', lw=.6, ls='--')
            a.set_xlabel(xl); a.set_ylabel('regret (pp of mean accuracy)'); a.set_title(f"{tn}: {title}", fontsize=9)
        ax[i, 0].legend(fontsize=7)
    fig.tight_layout(); path.parent.mkdir(parents=True, exist_ok=True); fig.savefig(path, dpi=110); plt.close(fig)


def batch_study(tables, seeds, budget, mode):
    out = {}
    for tn, t in tables.items():
        out[tn] = {}
        for q in (1, 2, 4):
            R = [one_search(t, STRATEGIES['spline, smoothing, no stop'], s, budget, mode, 'mnas', batch=q)[0] for s in range(seeds)]
            R = np.array(R)[:, q - 1::q]    # regret after each round of q evaluations
            out[tn][q] = R
    return out


def plot_batch(bres, path):
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, len(bres), figsize=(6 * len(bres), 4))
    for a, (tn, d) in zip(np.atleast_1d(ax), bres.items()):
        for q, R in d.items():
            lo, med, hi = quartiles(R); x = np.arange(1, R.shape[1] + 1)
            a.plot(x, 100 * med, label=f"q = {q}"); a.fill_between(x, 100 * lo, 100 * hi, alpha=.15)
        a.set_yscale('symlog', linthresh=0.5); a.set_ylim(0, 30); a.set_xlabel('rounds (q evaluations in parallel each)')
        a.set_ylabel('regret (pp)'); a.set_title(f"{tn}, MnasNet objective: spline (smoothing), q points per round", fontsize=9); a.legend()
    fig.tight_layout(); fig.savefig(path, dpi=110); plt.close(fig)


def ei_verdict(noisy, budget):
    "Per noisy row: spline + EI's, TPE's and GP's median regret (pp) after budget/3, 2budget/3, budget evaluations, and whether EI ≤ each."
    ks = (budget // 3, 2 * budget // 3, budget); out = {}
    for tn, res in noisy.items():
        med = lambda n: [100 * float(quartiles(res[n]['regret'])[1][k - 1]) for k in ks] if n in res else None
        e, t, g = med('spline + EI'), med('TPE (Optuna)'), med('GP (Optuna GPSampler)')
        if e is None: continue
        cmp = lambda o: '–' if o is None else '/'.join('yes' if a <= b + 1e-9 else 'no' for a, b in zip(e, o))
        out[tn] = {'ei': e, 'tpe': t, 'gp': g, 'le_tpe': cmp(t), 'le_gp': cmp(g)}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--seeds', type=int, default=20, help='search seeds per strategy')
    ap.add_argument('--budget', type=int, default=30, help='evaluations per search')
    ap.add_argument('--no-gp', action='store_true', help="leave out Optuna's GPSampler (the slowest proposer)")
    ap.add_argument('--quick', action='store_true', help='smoke test: 2 seeds, budget 12, 2-D table, no GP, nothing written to BENCHMARKS.md')
    ap.add_argument('--out', default=None, help='markdown file for the section (default: BENCHMARKS.md)')
    ap.add_argument('--figures', default=None, help='folder for the figures (default: benchmarks/figures)')
    ap.add_argument('--json', default=None, help='where to write the numbers (default: benchmarks/results/search.json)')
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    t_start = time.perf_counter()
    names = [k for k in STRATEGIES if not (a.no_gp or a.quick) or not k.startswith('GP')]
    seeds, budget = (2, 12) if a.quick else (a.seeds, a.budget)
    tables = {tn: load_table(tn) for tn in (TABLES[:1] if a.quick else TABLES)}
    figs = Path(a.figures) if a.figures else ROOT/'benchmarks'/'figures'
    figs.mkdir(parents=True, exist_ok=True)
    nogp = [n for n in names if not n.startswith('GP')]
    COVERAGE.clear()
    noisy = {f"{tn}, {obj}": compare(t, names, seeds, budget, 'seed', obj) for tn, t in tables.items() for obj in ('accuracy', 'mnas')}
    cov_noisy = list(COVERAGE); COVERAGE.clear()
    clean = {f"{tn}, mnas": compare(t, nogp, seeds, budget, 'mean', 'mnas') for tn, t in tables.items()}
    cov_clean = list(COVERAGE)
    bres = batch_study(tables, seeds, 4 * (budget // 4), 'seed')
    elapsed = time.perf_counter() - t_start
    for tn, res in {**noisy, **clean}.items():
        for name, r in res.items():
            assert r['regret'].shape == (seeds, budget) and np.isfinite(r['regret']).all() and (r['regret'] >= -1e-12).all(), name
    result = {'seeds': seeds, 'budget': budget, 'elapsed_s': elapsed,
              'tables': {tn: {'optimum': t.optimum, 'best_config': t.best_config, 'n': len(t),
                              'noise_std': float(t.valid.std(1, ddof=1).mean()), 'meta': {k: v for k, v in t.meta.items() if k != 'space'}}
                         for tn, t in tables.items()},
              'noisy': {tn: summary(r) for tn, r in noisy.items()}, 'noise_free': {tn: summary(r) for tn, r in clean.items()},
              'coverage90': {'noisy': cov_noisy, 'noise_free': cov_clean},
              'ei_vs': ei_verdict(noisy, budget),
              'batch': {tn: {q: quartiles(R)[1].tolist() for q, R in d.items()} for tn, d in bres.items()}}
    jp = Path(a.json) if a.json else ROOT/'benchmarks'/'results'/'search.json'
    jp.parent.mkdir(parents=True, exist_ok=True); jp.write_text(json.dumps(result, indent=1, default=float))
    plot_regret(noisy, figs/'search_regret.png', 'one seed per evaluation (noisy)')
    plot_regret(clean, figs/'search_regret_mean.png', 'mean over seeds (noise-free)')
    plot_batch(bres, figs/'search_batch.png')
    plot_posterior(tables['cnn2d-digits'], figs/'search_posterior.png', budget=budget)
    if '2d' in ' '.join(tables):
        import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
        plot_table_2d(tables['cnn2d-digits']); plt.gcf().savefig(figs/'table_cnn2d.png', dpi=110, bbox_inches='tight'); plt.close('all')
    body = [f"{seeds} search seeds per strategy, budget {budget} evaluations, all values from the shipped tables "
            f"(`nasbook/data/*.json.gz`, made by `benchmarks/make_tables.py`); the whole run took {elapsed:.0f} s.\n"]
    for tn, t in tables.items():
        m, mn = t.meta, TabularEvaluator(t, objective='mnas')
        body.append(f"- **{tn}**: {len(t)} architectures ({' × '.join(f'{k} ∈ {v}' for k, v in t.grid.items())}), "
                    f"{len(t.seeds)} training seeds each, {m['evaluator']['epochs']} epochs on {m['evaluator']['dataset']}; "
                    f"accuracy optimum {t.optimum:.4f} (mean over seeds) at {t.best_config}; MnasNet-objective optimum "
                    f"{mn.true_values.max():.4f} at {t.configs[int(np.argmax(mn.true_values))]}; noise: std over seeds "
                    f"{100 * t.valid.std(1, ddof=1).mean():.2f} pp on average; {t.seconds.sum() / 60:.1f} min of training in all "
                    f"(`{m['command']}`, {m['wall_seconds_this_run'] / 60:.1f} min wall).")
    body.append("\nTwo objectives: **accuracy** (validation accuracy) and **mnas** = accuracy × (MACs/T)^−0.07 with T the "
                "table's median MACs (MnasNet's soft constraint, Tan et al. 2019, MACs for latency): on these tables accuracy "
                "is highest at or beside the all-widest corner, which the spline's 2d+3 design measures first, while the "
                "MnasNet objective has its optimum inside the grid.\n")
    body.append("\nRegret = the table's optimum of the objective − the objective's true (mean-over-seeds) value at the search's "
                "incumbent (the configuration with the best *measured* value so far), in percentage points. 'One seed per evaluation': each evaluation returns one stored "
                "training seed's validation accuracy (the seed follows from the trial's seed), as a real run would; "
                "'noise-free': the mean over seeds. A strategy that stops early keeps its regret for the rest of the budget; "
                "the column 'evals used before its own stop' says where it stopped.\n")
    for title, results in (('one seed per evaluation (noisy)', noisy), ('mean over seeds (noise-free)', clean)):
        for tn, res in results.items():
            body += [f"\n**{tn}, {title}**\n", *table_rows(res, budget)]
    body.append("\n**Spline + EI against TPE and GP, one seed per evaluation** (median regret in pp after 10 / 20 / 30 evaluations; "
                "'≤' where EI's median is at most the other's):\n")
    body.append('| row | spline + EI | TPE | GP | EI ≤ TPE at 10/20/30 | EI ≤ GP at 10/20/30 |\n|---|---|---|---|---|---|')
    for tn, v in ei_verdict(noisy, budget).items():
        f = lambda k: ' / '.join(f"{x:.2f}" for x in v[k]) if v[k] else '–'
        body.append(f"| {tn} | {f('ei')} | {f('tpe')} | {f('gp')} | {v['le_tpe']} | {v['le_gp']} |")
    fin = lambda c: [x for x in c if np.isfinite(x)]
    body.append(f"\nCoverage of the final posterior's 90 % intervals (spline + EI and + UCB searches; fraction of all the table's "
                f"configurations whose true mean objective lies in mean ± 1.645 std): noisy runs median {np.median(fin(cov_noisy)):.2f} "
                f"(IQR {np.percentile(fin(cov_noisy), 25):.2f}–{np.percentile(fin(cov_noisy), 75):.2f}, {len(fin(cov_noisy))} searches), "
                f"noise-free median {np.median(fin(cov_clean)):.2f}.\n")
    body.append("\n![posterior](benchmarks/figures/search_posterior.png)\n")
    body.append("\n![regret, noisy](benchmarks/figures/search_regret.png)\n\n![regret, noise-free](benchmarks/figures/search_regret_mean.png)\n")
    body.append(f"\nBatch proposals (q points per round for parallel executors; spline with smoothing, noisy values): median regret (pp) after rounds\n")
    body.append('| table | q | after 2 rounds | after 4 rounds | after 7 rounds | after the last round |\n|---|---|---|---|---|---|')
    for tn, d in bres.items():
        for q, R in d.items():
            med = quartiles(R)[1]
            body.append(f"| {tn} | {q} | " + ' | '.join(f"{100 * med[min(k, len(med)) - 1]:.2f}" for k in (2, 4, 7, len(med))) + ' |')
    body.append("\n![batch](benchmarks/figures/search_batch.png)\n\n![the 2-D table](benchmarks/figures/table_cnn2d.png)\n")
    text = '\n'.join(body)
    if not a.quick or a.out:
        cmd = 'python benchmarks/bench_search.py' + (f' --seeds {a.seeds}' if a.seeds != 20 else '') + (f' --budget {a.budget}' if a.budget != 30 else '') + (' --no-gp' if a.no_gp else '')
        write_section('search-tabular', 'Search strategies on tabulated benchmarks', cmd, text, Path(a.out) if a.out else None)
    print(text)
    return result


if __name__ == '__main__': main()

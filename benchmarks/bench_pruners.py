"""Pruner costs: the optimized saw against the raw saw (thesis Table A.1); a supernet training step with its pruners against
the same network with every pruner passing its input through; the training-step time of deadheaded models against their
hard compression; and the memory of random compressed models predicted from operation sizes against measured.

    python benchmarks/bench_pruners.py [--repeats 7] [--calls 100] [--steps 2] [--models 8] [--inputs 8] [--threads 1] [--quick]
                                       [--out BENCHMARKS.md] [--figure-dir benchmarks/figures]
"""
import argparse, contextlib, copy, os, statistics, sys, time
from collections import Counter
from pathlib import Path

import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F
from torch.profiler import profile, ProfilerActivity

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section, ROOT
from nasbook.core import set_seed
from nasbook.pruners import Pruner, saw, saw_raw
from nasbook.cells import CellSupernet
from nasbook.memory import MemoryTrace, model_memory, MeasuredMemory, EstimatedMemory, running_ops
from nasbook.bonsai import assign_sizes, section_compression, compress_randomly

# Table A.1 (NVidia GPU, thesis): ms per 100 calls forward, forward+backward, VRAM
THESIS_A1 = {'raw': (13.3, 129.1, '1200 Kb'), 'optimized': (2.8, 18.3, '100 Kb')}
KINDS = ('raw', 'optimized')
PARTS = ('saw', 'supernet', 'deadhead', 'memory')


@contextlib.contextmanager
def quiet():
    "Send file descriptor 2 to /dev/null inside the block: the torch profiler prints start/stop lines there on every use."
    sys.stderr.flush(); saved = os.dup(2)
    with open(os.devnull, 'w') as null:
        os.dup2(null.fileno(), 2)
        try: yield
        finally: os.dup2(saved, 2); os.close(saved)


def timed(fn):
    t0 = time.perf_counter(); fn(); return time.perf_counter() - t0


def med(v): return statistics.median(v)


def paired(a, b):
    "Median over repeats of a[r] / b[r]: each ratio compares two timings taken next to each other, under the same load."
    return statistics.median(x / y for x, y in zip(a, b))


def rel(path, out):
    md = (out or ROOT / 'BENCHMARKS.md').resolve().parent
    return os.path.relpath(Path(path).resolve(), md)


# ---------------------------------------------------------------- 1. Table A.1
def top_ops(fn) -> str:
    "The top-level aten operators one call of `fn` runs (torch profiler), e.g. 'mul, floor, sub, div'."
    with profile(activities=[ProfilerActivity.CPU]) as prof: fn()
    names = Counter(e.name[len('aten::'):] for e in prof.events() if e.cpu_parent is None and e.name.startswith('aten::'))
    return ', '.join(f"{k}×{v}" if v > 1 else k for k, v in names.items())


def allocations(fn):
    "(allocations, bytes allocated, peak bytes above entry) of one call of `fn`: the profiler's memory events, and MemoryTrace."
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof: fn()
    mem = [e.nbytes() for e in prof.profiler.kineto_results.events()
           if e.name() == '[memory]' and e.device_type() == torch.autograd.DeviceType.CPU]
    with MemoryTrace('cpu') as mt: fn()
    return sum(b > 0 for b in mem), sum(b for b in mem if b > 0), mt.peak


def fmt_bytes(b):
    return f"{b} B" if b < 1024 else (f"{b / 1024:.1f} KiB" if b < 1024 ** 2 else f"{b / 1024 ** 2:.2f} MiB")


def saw_table(calls, repeats, act_shape):
    M = 1e4
    w = torch.tensor(0.1, requires_grad=True)
    x = torch.randn(*act_shape, requires_grad=True); g = torch.ones_like(x)
    prs = {k: Pruner(M=M, saw=k) for k in KINDS}
    one = {   # (setting, kind) -> (forward call, forward+backward call)
        **{('scalar', k): ((lambda k=k: saw(w, 1. / M) if k == 'optimized' else saw_raw(w, M)),
                           (lambda k=k: (saw(w, 1. / M) if k == 'optimized' else saw_raw(w, M)).backward())) for k in KINDS},
        **{('pruner', k): ((lambda k=k: prs[k](x)), (lambda k=k: prs[k](x).backward(g))) for k in KINDS}}
    def hundred(fn):
        def run():
            for _ in range(calls): fn()
        return run
    def clear():
        w.grad = None; x.grad = None
        for p in prs.values(): p.weight.grad = None
    for f, fb in one.values(): f(); fb()                      # warm-up
    t = {(s, k, ph): [] for (s, k) in one for ph in ('fwd', 'fwdbwd')}
    for r in range(repeats):   # interleaved; the order of raw and optimized alternates between repeats
        for s in ('scalar', 'pruner'):
            for k in (KINDS if r % 2 == 0 else KINDS[::-1]):
                f, fb = one[(s, k)]
                clear(); t[(s, k, 'fwd')].append(timed(hundred(f)) * 100 / calls)
                clear(); t[(s, k, 'fwdbwd')].append(timed(hundred(fb)) * 100 / calls)
    clear()
    with quiet():
        mem = {sk: (allocations(f), allocations(fb)) for sk, (f, fb) in one.items()}
        clear()
        ops = {sk: top_ops(f) for sk, (f, _) in one.items()}
    label = {'scalar': 'saw on a scalar weight', 'pruner': f"Pruner on a {'×'.join(map(str, act_shape))} activation"}
    rows = ['| setting | saw | aten ops per forward call | forward ms / 100 calls (min–max) | forward+backward ms / 100 calls (min–max) '
            '| allocations, bytes: forward | allocations, bytes (peak): forward+backward | thesis (GPU): forward, forward+backward ms, VRAM |',
            '|---|---|---|---|---|---|---|---|']
    res = {}
    for s in ('scalar', 'pruner'):
        for k in KINDS:
            f, fb = t[(s, k, 'fwd')], t[(s, k, 'fwdbwd')]
            (na, nb, pk), (na2, nb2, pk2) = mem[(s, k)]
            th = THESIS_A1[k]
            rows.append(f"| {label[s]} | {k} | {ops[(s, k)]} | {1e3 * med(f):.2f} ({1e3 * min(f):.2f}–{1e3 * max(f):.2f}) | "
                        f"{1e3 * med(fb):.2f} ({1e3 * min(fb):.2f}–{1e3 * max(fb):.2f}) | {na}, {fmt_bytes(nb)} | "
                        f"{na2}, {fmt_bytes(nb2)} ({fmt_bytes(pk2)}) | " + (f"{th[0]}, {th[1]}, {th[2]} |" if s == 'scalar' else '— |'))
            res[(s, k)] = dict(fwd=med(f), fwdbwd=med(fb), allocs=na, bytes=nb, allocs_fb=na2, bytes_fb=nb2, peak_fb=pk2)
        res[(s, 'ratio')] = dict(fwd=paired(t[(s, 'raw', 'fwd')], t[(s, 'optimized', 'fwd')]),
                                 fwdbwd=paired(t[(s, 'raw', 'fwdbwd')], t[(s, 'optimized', 'fwdbwd')]))
        rows.append(f"| {label[s]} | **raw / optimized** | | **{res[(s, 'ratio')]['fwd']:.2f}×** | "
                    f"**{res[(s, 'ratio')]['fwdbwd']:.2f}×** | "
                    f"{res[(s, 'raw')]['bytes'] / max(res[(s, 'optimized')]['bytes'], 1):.2f}× bytes | "
                    f"{res[(s, 'raw')]['bytes_fb'] / max(res[(s, 'optimized')]['bytes_fb'], 1):.2f}× bytes | "
                    + (f"{13.3 / 2.8:.2f}×, {129.1 / 18.3:.2f}×, 12× |" if s == 'scalar' else '— |'))
    return rows, res


# ---------------------------------------------------------------- 2.-4. BonsaiNet steps
def make_net(cfg, seed=0):
    set_seed(seed)
    m = CellSupernet(**cfg, grow=False)
    for _ in range(len(cfg['sections'])): m.grow()
    return m


def _identity(x): return x


def without_pruners(model):
    "A copy of `model` with the same weights whose every Pruner passes its input through (forward = identity)."
    m = copy.deepcopy(model)
    for mod in m.modules():
        if isinstance(mod, Pruner): mod.forward = _identity
    return m


def loss_of(out, y, aux_weight=0.4):
    "The Trainer's loss: cross-entropy of the logits plus 0.4 × that of each auxiliary head."
    if isinstance(out, (tuple, list)):
        main, *aux = out
        return F.cross_entropy(main, y) + aux_weight * sum(F.cross_entropy(a, y) for a in aux)
    return F.cross_entropy(out, y)


class Stepper:
    "One SGD training step (forward, loss, backward, step; optionally clamp the pruners after it, as PrunerTracker does)."
    def __init__(self, model, x, y, clamp=False):
        self.m, self.x, self.y = model.train(), x, y
        self.opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-4)
        self.prs = [p for _, p in model.pruners()] if clamp else []
    def __call__(self):
        loss = loss_of(self.m(self.x), self.y)
        self.opt.zero_grad(set_to_none=True); loss.backward(); self.opt.step()
        for p in self.prs: p.clamp_()


def time_steps(steppers:dict, repeats, steps):
    "Median seconds per step of each stepper: `steps` steps per repeat, repeats interleaved, after one warm-up step each."
    for s in steppers.values(): s()
    t = {k: [] for k in steppers}
    keys = list(steppers)
    for r in range(repeats):
        for k in (keys if r % 2 == 0 else keys[::-1]):
            t[k].append(timed(lambda: [steppers[k]() for _ in range(steps)]) / steps)
    return t


def ops_that_run(m, x) -> set:
    "Keys of the live edge ops that execute in a forward pass: an op whose edge's source node carries nothing never runs."
    ran, hooks = set(), []
    for i, cell in enumerate(m.cells):
        for k, e in cell.edges.items():
            for o, op in e.ops.items():
                hooks.append(op.register_forward_hook(lambda mod, inp, out, key=f"c{i}/{k}/{o}": ran.add(key)))
    was = m.training
    try:
        m.eval()
        with torch.no_grad(): m(x)
    finally:
        m.train(was)
        for h in hooks: h.remove()
    return ran


def n_params(m): return sum(p.numel() for p in m.parameters())


def cfg_text(cfg):
    return (f"BonsaiNet(in_shape={tuple(cfg['in_shape'])}, scale={cfg['scale']}, sections={cfg['sections']}, "
            f"nodes={cfg['nodes']}, depth={cfg['depth']})")


def supernet_table(cfgs, batch, repeats, steps):
    rows = ['| network | live ops / pruners | params | variant | median ms per step (min–max) | ratio to pruners → identity (median of per-repeat ratios) |',
            '|---|---|---|---|---|---|']
    out = []
    for cfg in cfgs:
        net = make_net(cfg)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(batch, *cfg['in_shape'], generator=g); y = torch.randint(0, 10, (batch,), generator=g)
        st = {'pruners → identity': Stepper(without_pruners(net), x, y),
              'with pruners': Stepper(copy.deepcopy(net), x, y),
              'with pruners + clamp_() after the step': Stepper(copy.deepcopy(net), x, y, clamp=True)}
        t = time_steps(st, repeats, steps)
        base = t['pruners → identity']
        for k, v in t.items():
            rows.append(f"| {cfg_text(cfg)} | {net.n_live_ops()} / {len(net.pruners())} | {n_params(net):,} | {k} | "
                        f"{1e3 * med(v):.1f} ({1e3 * min(v):.1f}–{1e3 * max(v):.1f}) | {paired(v, base):.3f} |")
        out.append({k: paired(v, base) for k, v in t.items()})
    return rows, out


def deadhead_models(cfg, sizes, comps, seed=0):
    "For each target c: the supernet with ops deadheaded at random (Algorithm 2, 'random') down to c in every section."
    out = []
    for c in comps:
        m = make_net(cfg, seed)
        compress_randomly(m, {s: c for s in range(len(cfg['sections']))}, sizes, 'random', seed)
        out.append((c, m))
    return out


def deadhead_table(cfg, sizes, comps, batch, repeats, steps):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *cfg['in_shape'], generator=g); y = torch.randint(0, 10, (batch,), generator=g)
    models = deadhead_models(cfg, sizes, comps)
    secs = list(range(len(cfg['sections'])))
    st, info = {}, {}
    for c, m in models:
        set_seed(1); fresh = CellSupernet.from_dict(m.to_dict())
        st[(c, 'deadheaded')] = Stepper(m, x, y); st[(c, 'rebuilt')] = Stepper(fresh, x, y)
        assert fresh.n_live_ops() == m.n_live_ops() and n_params(fresh) == n_params(m)
        info[c] = dict(hard=section_compression(m, secs), ops=m.n_live_ops(), run=len(ops_that_run(m, x)), params=n_params(m))
    t = time_steps(st, repeats, steps)
    full_t = t[(comps[0], 'deadheaded')]
    full = med(full_t); zero = med(t[(comps[-1], 'deadheaded')]) if comps[-1] == 0 else None
    rows = ['| target | measured hard compression | live ops (that run) | params | deadheaded: median ms per step (min–max) | '
            'rebuilt from genotype: ms per step | deadheaded / rebuilt | step time / full step |', '|---|---|---|---|---|---|---|---|']
    for c in comps:
        d, r = t[(c, 'deadheaded')], t[(c, 'rebuilt')]
        info[c].update(dead=med(d), rebuilt=med(r), dr=paired(d, r), frac=paired(d, full_t))
        rows.append(f"| {c:g}{' (all deadheaded)' if c == 0 else ''} | {info[c]['hard']:.3f} | {info[c]['ops']} ({info[c]['run']}) | {info[c]['params']:,} | "
                    f"{1e3 * med(d):.1f} ({1e3 * min(d):.1f}–{1e3 * max(d):.1f}) | {1e3 * med(r):.1f} | {info[c]['dr']:.3f} | {info[c]['frac']:.3f} |")
    return rows, info, full, zero


def plot_deadhead(info, full, path, title):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cs = sorted(info); h = np.array([info[c]['hard'] for c in cs])
    d = np.array([1e3 * info[c]['dead'] for c in cs]); r = np.array([1e3 * info[c]['rebuilt'] for c in cs])
    fig, ax = plt.subplots(figsize=(6.2, 3.8))
    ax.plot([0, 1], [0, 1e3 * full], 'k:', lw=1, label='proportional to hard compression')
    a, b = np.polyfit(h, d, 1)
    ax.plot([0, 1], [b, a + b], color='tab:blue', lw=0.8, ls='--', label=f'least squares: {b:.0f} + {a:.0f}·c ms')
    ax.plot(h, d, 'o', color='tab:blue', ms=7, label='deadheaded supernet')
    ax.plot(h, r, 's', mfc='none', color='tab:red', ms=9, label='same genotype built fresh')
    for hi, di, c in zip(h, d, cs): ax.annotate(f"{info[c]['params'] / 1e3:.0f}k params", (hi, di), textcoords='offset points', xytext=(6, -12), fontsize=7)
    ax.set_xlabel('measured hard compression (live op memory / all op memory)'); ax.set_ylabel('ms per training step')
    ax.set_xlim(-0.05, 1.08); ax.set_ylim(0, max(d.max(), r.max()) * 1.15); ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=8); ax.legend(fontsize=7, loc='upper left')
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches='tight'); plt.close(fig)
    return path, a, b


def memory_rows(models, x, y, sizes, ctx, a1, names):
    "Per model: measured memory and the three predictions (Algorithm 1 over all live ops, over the ops that run; in context)."
    pts = []
    for name, m in zip(names, models):
        ran = set(running_ops(m))
        with quiet():
            meas = model_memory(m, x, y, steps=2)
            fixed = a1.fixed_bytes(m); live = a1.pruner_sizes(m)
            pred_a1 = a1.model_bytes(m); pred_ctx = ctx.model_bytes(m)
        pred_run = fixed + sum(v for k, v in live.items() if k in ran or '/in/' in k)
        pts.append(dict(name=name, meas=meas, a1=pred_a1, run=pred_run, ctx=pred_ctx, fixed=fixed, ops=m.n_live_ops(), ran=len(ran)))
    return pts


def memory_table(cfg, sizes, n_models, batch, seed=0):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *cfg['in_shape'], generator=g); y = torch.randint(0, 10, (batch,), generator=g)
    nsec = len(cfg['sections']); secs = list(range(nsec))
    rng = np.random.default_rng(seed)
    targets = [[1.] * nsec] + [list(np.round(rng.uniform(0.1, 1., nsec), 3)) for _ in range(n_models)]
    models, names = [], []
    for i, cs in enumerate(targets):
        m = make_net(cfg); compress_randomly(m, dict(enumerate(cs)), sizes, 'random', seed + i)
        models.append(m); names.append('full supernet' if i == 0 else f"random {i}")
    a1 = MeasuredMemory(batch, 'algorithm1', device='cpu'); ctx = MeasuredMemory(batch, 'context', device='cpu')
    pts = memory_rows(models, x, y, sizes, ctx, a1, names)
    rows = ['| model | targets per section | measured hard compression | live ops (that run) | measured MiB | fixed part MiB | '
            'Algorithm 1, all live ops: MiB (error) | Algorithm 1, ops that run | in context (corrected): MiB (error) |', '|---|---|---|---|---|---|---|---|---|']
    for p, cs, m in zip(pts, targets, models):
        rows.append(f"| {p['name']} | {', '.join(f'{c:g}' for c in cs)} | {section_compression(m, secs):.3f} | {p['ops']} ({p['ran']}) | "
                    f"{p['meas'] / 2 ** 20:.2f} | {p['fixed'] / 2 ** 20:.2f} | {p['a1'] / 2 ** 20:.2f} ({err(p, 'a1'):+.1f}%) | "
                    f"{p['run'] / 2 ** 20:.2f} ({err(p, 'run'):+.1f}%) | **{p['ctx'] / 2 ** 20:.2f} ({err(p, 'ctx'):+.1f}%)** |")
    return rows, pts, ctx


def err(p, k): return 100 * (p[k] - p['meas']) / p['meas']


def spider_memory_table(scale, sections, mutations, batch, ctx, seed=0):
    "SpiderNet models: the minimal model, random triangular mutations, and some with random deadheads."
    from nasbook.spider import spider_model, random_mutations, random_deadheads
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 1, 8, 8, generator=g); y = torch.randint(0, 10, (batch,), generator=g)
    models, names = [], []
    for j, (k, dh) in enumerate(mutations):
        set_seed(seed + j); m = spider_model((1, 8, 8), 10, scale=scale, sections=sections)
        random_mutations(m, k, seed=seed + j)
        if dh: random_deadheads(m, int(round(dh * m.n_live_ops())), seed=seed + j)
        models.append(m); names.append(f"{k} mutations" + (f", {100 * dh:.0f}% of ops deadheaded" if dh else ''))
    a1 = MeasuredMemory(batch, 'algorithm1', device='cpu')
    pts = memory_rows(models, x, y, None, ctx, a1, names)
    rows = ['| SpiderNet model | edges | live ops (that run) | measured MiB | fixed part MiB | Algorithm 1, all live ops: MiB (error) | '
            'Algorithm 1, ops that run | in context (corrected): MiB (error) | estimated (`model_bytes`): MiB (error) |', '|---|---|---|---|---|---|---|---|---|']
    est = EstimatedMemory(batch)
    for p, m in zip(pts, models):
        p['est'] = est.model_bytes(m)
        rows.append(f"| {p['name']} | {len(m.edges())} | {p['ops']} ({p['ran']}) | {p['meas'] / 2 ** 20:.2f} | {p['fixed'] / 2 ** 20:.2f} | "
                    f"{p['a1'] / 2 ** 20:.2f} ({err(p, 'a1'):+.1f}%) | {p['run'] / 2 ** 20:.2f} ({err(p, 'run'):+.1f}%) | "
                    f"**{p['ctx'] / 2 ** 20:.2f} ({err(p, 'ctx'):+.1f}%)** | {p['est'] / 2 ** 20:.2f} ({err(p, 'est'):+.1f}%) |")
    return rows, pts


def plot_memory(groups, path, title):
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, len(groups), figsize=(4.6 * len(groups), 4.4))
    for ax, (label, pts) in zip(np.atleast_1d(axs), groups.items()):
        meas = np.array([p['meas'] for p in pts]) / 2 ** 20
        hi = max(max(p['a1'] for p in pts) / 2 ** 20, meas.max()) * 1.08
        ax.plot([0, hi], [0, hi], 'k:', lw=1, label='predicted = measured')
        ax.fill_between([0, hi], [0, 0.85 * hi], [0, 1.15 * hi], color='tab:green', alpha=0.08, label='±15 %')
        ax.plot(meas, np.array([p['a1'] for p in pts]) / 2 ** 20, 'o', color='tab:red', label='Algorithm 1 as stated: fixed + Σ live op sizes')
        ax.plot(meas, np.array([p['run'] for p in pts]) / 2 ** 20, 'x', color='tab:orange', ms=7, label='Algorithm 1, ops that run only')
        ax.plot(meas, np.array([p['ctx'] for p in pts]) / 2 ** 20, 's', mfc='none', color='tab:green', ms=8, label='in context: fixed + Σ ops that run + nodes')
        ax.set_xlim(0, hi); ax.set_ylim(0, hi); ax.set_aspect('equal'); ax.grid(alpha=0.3)
        ax.set_xlabel('measured training memory, MiB (model_memory)'); ax.set_ylabel('predicted, MiB'); ax.set_title(label, fontsize=8)
        ax.legend(fontsize=6.5, loc='lower right')
    fig.suptitle(title, fontsize=8)
    path = Path(path); path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches='tight'); plt.close(fig)
    return path


def summary(pts, k):
    e = np.array([abs(err(p, k)) for p in pts])
    return f"median {np.median(e):.1f}%, max {e.max():.1f}%"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=7, help='interleaved repeats of every timing (median reported)')
    ap.add_argument('--calls', type=int, default=100, help='calls per timed block in Table A.1 (reported per 100 calls)')
    ap.add_argument('--steps', type=int, default=2, help='training steps per timed block')
    ap.add_argument('--models', type=int, default=8, help='random compressed models for the memory prediction')
    ap.add_argument('--inputs', default='8', help='input sizes (H = W) of the supernets timed with and without pruners, e.g. 8,16')
    ap.add_argument('--threads', type=int, default=1, help='torch threads')
    ap.add_argument('--only', choices=PARTS, nargs='+', default=list(PARTS), help='run only these parts (default: all)')
    ap.add_argument('--quick', action='store_true', help='a tiny run for the smoke test (2 repeats, small networks, 3 models)')
    ap.add_argument('--out', default=None, help='markdown file to write the sections to (default: BENCHMARKS.md)')
    ap.add_argument('--figure-dir', default=None, help='folder for the figures (default: benchmarks/figures)')
    a = ap.parse_args(argv)
    batch = 64
    cell = dict(sections=['N', 'R', 'R'], nodes=3, depth=2)   # BonsaiConfig's defaults
    cfgs = [dict(in_shape=(1, int(h), int(h)), scale=8, **cell) for h in a.inputs.split(',')]
    act, comps = (64, 16, 32, 32), (1., 0.75, 0.5, 0.25, 0.)
    if a.quick:
        a.repeats, a.calls, a.steps, a.models = 2, 20, 1, 2
        cfgs = [dict(in_shape=(1, 8, 8), scale=4, sections=['N', 'R'], nodes=2, depth=2)]
        act, comps = (8, 8, 16, 16), (1., 0.5, 0.)
    if a.repeats < 1 or a.calls < 1 or a.steps < 1 or a.models < 1: ap.error('need --repeats, --calls, --steps, --models >= 1')
    torch.set_num_threads(a.threads)
    cmd = ('python benchmarks/bench_pruners.py ' + ' '.join(argv if argv is not None else sys.argv[1:])).strip()
    out = Path(a.out) if a.out else None
    figs = Path(a.figure_dir) if a.figure_dir else ROOT / 'benchmarks' / 'figures'
    t_start = time.perf_counter(); load0 = os.getloadavg()[0]
    dev = 'CPU, 1 torch thread' if a.threads == 1 else f'CPU, {a.threads} torch threads'

    res = steps = info = errs = None
    # 1. Table A.1
    if 'saw' in a.only: res = part_saw(a, act, dev, load0, cmd, out)
    # 2. supernet step with and without pruners
    if 'supernet' in a.only: steps = part_supernet(a, cfgs, batch, dev, cmd, out)
    # 3. step time against hard compression
    cfg = cfgs[0]
    full = make_net(cfg)
    t_sz = time.perf_counter()
    with quiet(): sizes = assign_sizes(full, batch, reps=2)
    t_sz = time.perf_counter() - t_sz
    if 'deadhead' in a.only: info = part_deadhead(a, cfg, sizes, comps, batch, dev, t_sz, figs, cmd, out)
    # 4. predicted against measured memory
    if 'memory' in a.only: errs = part_memory(a, cfg, full, sizes, batch, t_start, load0, figs, cmd, out)
    return res, steps, info, errs


def part_saw(a, act, dev, load0, cmd, out):
    t0 = time.perf_counter()
    rows, res = saw_table(a.calls, a.repeats, act)
    sc = res
    body1 = (f"The saw of Eq. A.3 ('raw': `(Mw − floor(Mw)) / M`) against Eq. A.4 ('optimized': `torch.remainder(w, 1/M)`), M = 10⁴, "
             f"timed for {a.calls} calls and reported per 100 calls; median of {a.repeats} interleaved repeats (the order of raw "
             f"and optimized alternates), after a warm-up; ratios are medians of the per-repeat ratios (raw and optimized timed "
             f"back to back). Two settings: the saw alone on a scalar weight (what Table A.1 "
             f"times), and a whole `Pruner` (`x · (G(w) + S(w))`) on a {'×'.join(map(str, act))} float32 activation that "
             f"requires a gradient; forward+backward = `saw(w).backward()` / `pruner(x).backward(ones)`. Ours ran on the "
             f"{dev} of the machine below, shared with other jobs (load average {load0:.1f} at the start); the thesis' "
             f"numbers are from its GPU (CUDA kernels; its VRAM column from a process like Algorithm 1). Operators: the "
             f"profiler's top-level aten calls of one forward (`to` is the float M or 1/M being wrapped as a tensor). "
             f"Allocations and bytes: the profiler's CPU memory events of one call; in brackets the peak above the memory at "
             f"entry (`nasbook.memory.MemoryTrace`).\n\n" + '\n'.join(rows) + '\n\n'
             f"- Scalar weight: raw/optimized = {sc[('scalar', 'ratio')]['fwd']:.2f}× forward and "
             f"{sc[('scalar', 'ratio')]['fwdbwd']:.2f}× forward+backward (thesis, GPU: 4.75× and 7.05×); "
             f"the raw saw allocates {sc[('scalar', 'raw')]['allocs']} tensors ({sc[('scalar', 'raw')]['bytes']} B) per forward against "
             f"{sc[('scalar', 'optimized')]['allocs']} ({sc[('scalar', 'optimized')]['bytes']} B).\n"
             f"- Inside a pruner on a real activation the saw is a scalar computation beside a full-size multiply (and, backward, "
             f"a full-size reduction for the weight's gradient): raw/optimized = {sc[('pruner', 'ratio')]['fwd']:.2f}× "
             f"forward and {sc[('pruner', 'ratio')]['fwdbwd']:.2f}× forward+backward; "
             f"both allocate the {fmt_bytes(int(np.prod(act)) * 4)} output, and the saws differ by "
             f"{sc[('pruner', 'raw')]['bytes'] - sc[('pruner', 'optimized')]['bytes']} B per forward.\n\n"
             f"Part time: {time.perf_counter() - t0:.0f} s.\n")
    write_section('pruner-saw', 'Pruners: optimized against raw saw (Table A.1)', cmd, body1, out)
    print(body1)
    return res


def part_supernet(a, cfgs, batch, dev, cmd, out):
    t0 = time.perf_counter()
    rows2, steps = supernet_table(cfgs, batch, a.repeats, a.steps)
    ov = [100 * (s['with pruners'] - 1) for s in steps]
    ovc = [100 * (s['with pruners + clamp_() after the step'] - 1) for s in steps]
    body2 = (f"One training step (forward, the Trainer's loss: cross-entropy + 0.4 × each auxiliary head's, backward, "
             f"SGD with momentum 0.9 and weight decay 3e-4) of a complete BonsaiNet supernet, batch {batch} of random inputs, "
             f"against the same network (a deep copy, same weights) whose every `Pruner` has `forward = identity` "
             f"(its weight then gets no gradient and SGD skips it). A third variant also clamps every pruner weight after the "
             f"step, as `PrunerTracker` does in training. Median of {a.repeats} interleaved repeats of {a.steps} step(s), after a "
             f"warm-up step; the ratio is the median of the per-repeat ratios (variants timed back to back); {dev}.\n\n" + '\n'.join(rows2) + '\n\n'
             + '\n'.join(f"- {cfg_text(c)}: pruners cost {o:+.1f}% per step ({oc:+.1f}% with clamping)." for c, o, oc in zip(cfgs, ov, ovc))
             + f"\n\nPart time: {time.perf_counter() - t0:.0f} s.\n")
    write_section('pruner-supernet', 'Pruners: supernet training step with and without pruners', cmd, body2, out)
    print(body2)
    return steps


def part_deadhead(a, cfg, sizes, comps, batch, dev, t_sz, figs, cmd, out):
    t0 = time.perf_counter()
    rows3, info, t_full, t_zero = deadhead_table(cfg, sizes, comps, batch, a.repeats, a.steps)
    fig3, slope, icpt = plot_deadhead(info, t_full, figs / 'deadhead_step_time.png',
                                      f"{cfg_text(cfg)}, batch {batch}, {dev}; median of {a.repeats}")
    dr = [info[c]['dr'] for c in comps]
    body3 = (f"{cfg_text(cfg)}, batch {batch}: operation sizes measured by `assign_sizes` (Algorithm 1, 2 repetitions; "
             f"{len(set(sizes.values()))} distinct sizes, {t_sz:.0f} s), then for each target c the supernet with ops deadheaded at "
             f"random (`compress_randomly(..., 'random')`, Algorithm 2 choosing ops until each group reaches c) in every section; "
             f"the hard compression is `section_compression` over all sections (live op memory / all op memory, Eq. 4.17). "
             f"Each deadheaded model is timed against a model built fresh from its genotype (`CellSupernet.from_dict`: the same "
             f"live ops, no trace of the deleted ones). One step = forward, loss, backward, SGD step; median of {a.repeats} "
             f"interleaved repeats of {a.steps} step(s); ratios are medians of per-repeat ratios; 'that run': live ops whose "
             f"edge's source node receives something (see the memory section); {dev}.\n\n" + '\n'.join(rows3) + '\n\n'
             f"![step time against hard compression]({rel(fig3, out)})\n\n"
             f"Deadheaded / rebuilt: {min(dr):.2f}–{max(dr):.2f}× — a deleted op costs nothing per step: the deadheaded supernet "
             f"steps as fast as a network built without those ops. Step time as a fraction of the full step against the measured "
             f"hard compression: " + '; '.join(f"{info[c]['hard']:.2f} → {info[c]['frac']:.2f}" for c in comps) +
             f" (least squares: {icpt:.0f} ms + {slope:.0f} ms × c"
             + (f"; with every op deadheaded a step still takes {1e3 * t_zero:.0f} ms: stem, input scalers, node batch norms, towers"
                if t_zero is not None else '') +
             "). Hard compression weighs ops by their measured memory, not by their compute, so the step time need not be "
             "proportional to it.\n\n"
             f"Part time: {time.perf_counter() - t0:.0f} s.\n")
    write_section('deadhead', 'Pruners: training-step time against hard compression after deadheading', cmd, body3, out)
    print(body3)
    return info


def part_memory(a, cfg, full, sizes, batch, t_start, load0, figs, cmd, out):
    t0 = time.perf_counter()
    rows4, pts, ctx = memory_table(cfg, sizes, a.models, batch)
    spider_cfg = (dict(scale=4, sections=['N', 'R'], mutations=[(0, 0.), (3, 0.), (3, 0.3)]) if a.quick else
                  dict(scale=8, sections=['N', 'R', 'R'], mutations=[(0, 0.), (3, 0.), (6, 0.), (12, 0.), (20, 0.), (6, 0.3), (12, 0.5), (20, 0.5)]))
    rows5, spts = spider_memory_table(spider_cfg['scale'], spider_cfg['sections'], spider_cfg['mutations'], batch, ctx)
    fig4 = plot_memory({f"BonsaiNet: {len(pts)} models": pts, f"SpiderNet: {len(spts)} models": spts}, figs / 'memory_prediction.png',
                       f"{cfg_text(cfg)} and spider_model((1, 8, 8), scale={spider_cfg['scale']}, sections={spider_cfg['sections']}); batch {batch}, CPU")
    e0 = next(iter(full.cells[0].edges.keys())); hw = full.cells[0].edges[e0].in_hw
    act_b = 4 * batch * full.cells[0].C * hw[0] * hw[1]
    op_kib = ', '.join(f"{o} {sizes[f'c0/{e0}/{o}'] / 1024:.0f}/{ctx.op_bytes(o, full.cells[0].C, 1, hw) / 1024:.0f}"
                       for o in full.cells[0].edges[e0].live_ops())
    worst = max(abs(err(p, 'ctx')) for p in pts + spts)
    body4 = (f"{cfg_text(cfg)}, batch {batch}. The full supernet and {a.models} models with per-section targets drawn uniformly from "
             f"[0.1, 1] (seeded), deadheaded at random to them (`compress_randomly`, sizes from `assign_sizes` as above); and "
             f"SpiderNet models (`spider_model`, then seeded `random_mutations` and, for some, `random_deadheads`). Measured = "
             f"`nasbook.memory.model_memory` (peak CPU bytes of two forward+backward steps, parameters and buffers included). "
             f"Every prediction is the model's *fixed part* — the same network measured with every operation and cell-input pruner "
             f"removed (stem, scalers, node batch norms, towers, the parameters left; `MeasuredMemory.fixed_bytes`) — plus sizes:\n\n"
             f"- **Algorithm 1 as stated** (the thesis, §4.5.1, Eqs. 4.25–4.28; `MeasuredMemory(sizing='algorithm1')`): Σ the "
             f"Algorithm 1 sizes of all live operations (+ the cell-input pruners' 4·C·H·W·batch bytes);\n"
             f"- Algorithm 1 over the ops that run: the same, leaving out live ops on edges whose source node receives nothing "
             f"(every op into it deadheaded; `running_ops`);\n"
             f"- **in context** (the corrected model; `MeasuredMemory(sizing='context')`, SpiderNet's default gate): Σ over the ops "
             f"that run of their in-context sizes (`context_op_size`: what an op adds, at the end of a forward pass, to a node that "
             f"already sums other inputs and whose input is kept anyway) + Σ over the nodes that receive something of "
             f"`context_node_size` (the sum its batch norm saves and its output).\n\n"
             + '\n'.join(rows4) + '\n\n' + '\n'.join(rows5) + '\n\n'
             f"![predicted against measured memory]({rel(fig4, out)})\n\n"
             f"| prediction | BonsaiNet models ({len(pts)}): absolute error | SpiderNet models ({len(spts)}) |\n|---|---|---|\n"
             f"| Algorithm 1 as stated (all live ops) | {summary(pts, 'a1')} | {summary(spts, 'a1')} |\n"
             f"| Algorithm 1, ops that run | {summary(pts, 'run')} | {summary(spts, 'run')} |\n"
             f"| **in context (corrected)** | **{summary(pts, 'ctx')}** | **{summary(spts, 'ctx')}** |\n"
             f"| estimated (`EstimatedMemory`: params + one map per op and node) | — | {summary(spts, 'est')} |\n\n"
             f"Algorithm 1's sizes over-predict a network because each counts, besides the op's own parameters and saved "
             f"tensors, a gradient for its input, its pruner's output, the listing's `y + y` and the loss, which inside a network "
             f"are shared by all the ops of a node or absent; and an op that never runs still counts. In context, the largest "
             f"error over all {len(pts) + len(spts)} models is {worst:.1f}% "
             + ("(within the 15 % asked for); what is left is the backward pass's transient buffers, paid once by the network." if worst < 15
                else "— over the 15 % asked for.")
             + (" Every live op runs in these models (deadheading cascades to ops orphaned by it), so the two Algorithm 1 columns "
                "agree; the median +57 % (+35 % for the ops that run) this section showed on 2026-11-23 came from models built "
                "before that cascade, which kept idle ops." if all(p['ran'] == p['ops'] for p in pts) else '') + "\n\n"
             f"Sizes of the ops on edge c0/{e0} (stride 1, {hw[0]}×{hw[1]}), Algorithm 1 / in context, in KiB: {op_kib}; one "
             f"activation tensor of that edge is {act_b / 1024:.0f} KiB.\n\n"
             f"Part time: {time.perf_counter() - t0:.0f} s. Whole benchmark: {time.perf_counter() - t_start:.0f} s "
             f"(load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end).\n")
    p = write_section('memory-prediction', 'Memory: predicted against measured model memory (Algorithm 1 and in context)', cmd, body4, out)
    print(body4); print(f"written to {p}; figure {fig4}")
    return [err(p, 'ctx') for p in pts + spts]


if __name__ == '__main__':
    main()

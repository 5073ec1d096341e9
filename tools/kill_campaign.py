"""Kill campaign: SIGKILL every resumable nasbook command at seeded random moments, resume, repeat, and
compare with an uninterrupted run of the same seed.

For each command a *round* is: run it in a fresh output folder; kill it (a timer, or a crash injected
inside a journal append or an atomic write through $NASBOOK_CRASH_AT, see `nasbook.core.crash_point`);
check that every file it left is readable; run the same command line again (which resumes); repeat until
a run finishes by itself. The finished round must equal the uninterrupted reference: the same journal
records (trial, config, value, status) exactly once each, and the same result file (summary.json or
result.json) once times, paths and counters of this run are left out.

    python tools/kill_campaign.py --kills 20                # every command, 20 kills each, prints the table
    python tools/kill_campaign.py --commands random,spline --kills 3 --seed 1
    python tools/kill_campaign.py --kills 20 --report BENCHMARKS.md   # and write the table there

`make stress` runs the first form and writes the table to BENCHMARKS.md; tests/test_kill_campaign.py
runs a few kills per command.
"""
from __future__ import annotations
import argparse, json, math, os, re, shutil, signal, subprocess, sys, tempfile, time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# Small, real configurations of every resumable command (digits data, a few seconds to a minute each).
COMMANDS = {
    'random': ['random', '--budget', '5', '--epochs', '1', '--seed', '3', '--quiet'],
    'spline': ['spline', '--space', 'cnn-widths', '--budget', '8', '--epochs', '1', '--seed', '3', '--quiet'],
    'bonsai': ['bonsai', '--sections', 'N,R', '--scale', '8', '--nodes', '2', '--depth', '2', '--epochs', '4', '--cycle', '1',
               '--lam', '1', '--lr', '0.1', '--batch-size', '32', '--no-reinit', '--memory-budget', '70%', '--search-depth', '3',
               '--no-sandbox', '--quiet'],
    'spider': ['spider', '--cycles', '2', '--epochs-per-cycle', '1', '--train-epochs', '2', '--scale', '4', '--batch-size', '32',
               '--quiet'],
    'nasib': ['nasib', '--budget', '3', '--layers', '3', '--channels', '4', '--superkernel', '3', '--train-epochs', '1', '--seed', '1',
              '--quiet'],
    'nasrl': ['nasrl', '--budget', '4', '--epochs', '1', '--controller-batch', '2', '--seed', '1', '--quiet'],
    'nasnet': ['nasnet', '--budget', '4', '--epochs', '1', '--blocks', '2', '--controller-batch', '2', '--seed', '1', '--quiet'],
    'transfer': ['transfer', '--methods', 'random,nasnet', '--sources', 'digits', '--target', 'digits', '--target-train', '300',
                 '--seeds', '1', '--evaluations', '2', '--epochs', '1', '--channels', '4', '--cells-n', '1', '--quiet'],
    'train': ['train', '--space', 'cnn-widths', '--config', '{"w1": 8, "w2": 16}', '--epochs', '4', '--seed', '1', '--quiet'],
}
# ways to die: a timer (anywhere), or inside the n-th write of a kind
MODES = ('timer', 'journal:half', 'atomic:half', 'atomic:rename')
VOLATILE = re.compile(r'(second|time|elapsed|finished|started|cost|journal|path|^out$|evaluated_now|wall|resumed|_s$)', re.I)


def nasbook_exe() -> str:
    exe = shutil.which('nasbook', path=str(Path(sys.executable).parent)) or shutil.which('nasbook')
    if not exe: raise SystemExit("the nasbook console script is not installed (run `make install`)")
    return exe


def available(name: str) -> bool:
    "Is `name` a command of the installed nasbook (commands appear as methods land)?"
    r = subprocess.run([nasbook_exe(), name, '--help'], capture_output=True, text=True)
    return r.returncode == 0


def stable(obj):
    "The result with times, paths and this-run counters left out, floats rounded to 9 digits."
    if isinstance(obj, dict): return {k: stable(v) for k, v in sorted(obj.items()) if not VOLATILE.search(str(k))}
    if isinstance(obj, list): return [stable(v) for v in obj]
    if isinstance(obj, float): return round(obj, 9) if math.isfinite(obj) else str(obj)
    return obj


def signature(out: Path) -> dict:
    "What must not depend on kills: journal records and result files of one output folder."
    from nasbook.core import Journal
    sig = {}
    for j in sorted(out.rglob('*.jsonl')):
        recs = Journal(j).records
        trials = [r['trial'] for r in recs]
        assert len(trials) == len(set(trials)), f"{j}: a trial appears twice"
        sig[str(j.relative_to(out))] = sorted((r['trial'], json.dumps(r['config'], sort_keys=True), stable(r.get('value')), r['status'])
                                              for r in recs)
    for name in ('summary.json', 'result.json'):
        for f in sorted(out.rglob(name)): sig[str(f.relative_to(out))] = stable(json.loads(f.read_text()))
    return sig


def unreadable(out: Path) -> list:
    "Files a kill left that the next run could not read: every JSON, journal and torch file must open."
    import torch
    from nasbook.core import Journal
    bad = []
    for f in sorted(p for p in out.rglob('*') if p.is_file()):
        if f.name.startswith('.') and f.name.endswith('.part'): continue   # a killed writer's temporary file: never read
        try:
            if f.suffix == '.json': json.loads(f.read_text())
            elif f.suffix == '.jsonl': Journal(f)
            elif f.suffix == '.pt': torch.load(f, map_location='cpu', weights_only=False)
        except Exception as e: bad.append(f"{f.relative_to(out)}: {type(e).__name__}: {str(e)[:100]}")
    return bad


def _env(extra=None):
    env = dict(os.environ, OMP_NUM_THREADS='1', MPLBACKEND='Agg', KINETO_LOG_LEVEL='5', PYTHONUNBUFFERED='1')
    env.pop('NASBOOK_CRASH_AT', None)
    if extra: env.update(extra)
    return env


def run_once(argv, out, env=None, kill_after=None, timeout=900) -> tuple:
    "Run one attempt; SIGKILL its whole process group after `kill_after` seconds. Returns (how it ended, seconds, stderr tail)."
    t0 = time.perf_counter()
    p = subprocess.Popen([nasbook_exe(), *argv, '--out', str(out)], env=env or _env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, start_new_session=True)
    try: _, err = p.communicate(timeout=kill_after if kill_after is not None else timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL); _, err = p.communicate()
        return 'killed', time.perf_counter() - t0, ''
    finally:
        try: os.killpg(p.pid, signal.SIGKILL)   # workers of a process that died by itself
        except ProcessLookupError: pass
    if p.returncode == 0: return 'finished', time.perf_counter() - t0, ''
    if p.returncode == -signal.SIGKILL: return 'killed', time.perf_counter() - t0, ''
    return 'failed', time.perf_counter() - t0, err.decode(errors='replace')[-1500:]


@dataclass
class Outcome:
    command: str
    kills: int = 0
    resumed_ok: int = 0          # kills after which every file was readable and the next run went on without error
    rounds: int = 0
    identical: int = 0           # rounds whose final result equals the uninterrupted run's
    modes: dict = field(default_factory=dict)
    problems: list = field(default_factory=list)
    ref_seconds: float = 0.


def campaign(name: str, argv: list, kills: int, seed: int = 0, workdir=None, log=print, max_rounds: int = 50) -> Outcome:
    "Kill `argv` at least `kills` times over fresh rounds; compare every finished round with the reference."
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    work = Path(workdir or tempfile.mkdtemp(prefix=f'kill-{name}-'))
    o = Outcome(name)
    wlog = work / 'writes.log'; work.mkdir(parents=True, exist_ok=True); wlog.unlink(missing_ok=True)
    how, t_ref, err = run_once(argv, work / 'reference', _env({'NASBOOK_WRITE_LOG': str(wlog)}))
    if how != 'finished': o.problems.append(f"reference run {how}: {err}"); return o
    o.ref_seconds = t_ref
    writes = wlog.read_text().split() if wlog.exists() else []
    n_writes = {k: writes.count(k) for k in ('journal', 'atomic')}
    modes = [m for m in MODES if m == 'timer' or n_writes[m.split(':')[0]] > 0]
    ref = signature(work / 'reference')
    while o.kills < kills and o.rounds < max_rounds:
        out = work / f'round{o.rounds}'; o.rounds += 1
        pending = False   # a kill whose resume has not been judged yet
        for attempt in range(4 * kills + 20):
            mode = str(rng.choice(modes)) if o.kills < kills else None
            if mode is None: env, t = _env(), None
            elif mode == 'timer': env, t = _env(), float(rng.uniform(0.2, 1.0)) * t_ref
            else:
                kind, what = mode.split(':')
                env, t = _env({'NASBOOK_CRASH_AT': f"{kind}:{int(rng.integers(1, n_writes[kind] + 1))}:{what}"}), None
            how, _, err = run_once(argv, out, env, t)
            if how == 'failed':
                o.problems.append(f"round {o.rounds}, attempt {attempt} ({mode}): {err}"); pending = False; break
            if pending: o.resumed_ok += 1; pending = False
            if how == 'killed':
                o.kills += 1; o.modes[mode] = o.modes.get(mode, 0) + 1
                bad = unreadable(out)
                if bad: o.problems.append(f"round {o.rounds}: after a {mode} kill: {bad}")
                else: pending = True
                log(f"  {name}: kill {o.kills}/{kills} ({mode}{'' if t is None else f' at {t:.1f}s'})")
                continue
            # finished by itself: judge the round
            try: sig = signature(out)
            except AssertionError as e: o.problems.append(f"round {o.rounds}: {e}"); break
            if sig == ref: o.identical += 1
            else:
                diff = sorted(k for k in set(sig) | set(ref) if sig.get(k) != ref.get(k))
                o.problems.append(f"round {o.rounds}: result differs from the uninterrupted run in {diff}")
            break
        else: o.problems.append(f"round {o.rounds}: never finished")
    return o


def table(outcomes) -> str:
    rows = ["| command | kills | resumed OK | rounds identical to the uninterrupted run | kills by timer / journal / atomic half / before rename | reference run (s) |",
            "|---|---:|---:|---:|---|---:|"]
    for o in outcomes:
        m = ' / '.join(str(o.modes.get(k, 0)) for k in MODES)
        rows.append(f"| {o.command} | {o.kills} | {o.resumed_ok} of {o.kills} | {o.identical} of {o.rounds} | {m} | {o.ref_seconds:.1f} |")
    return '\n'.join(rows)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--commands', default=','.join(COMMANDS), help=f"comma-separated, of {', '.join(COMMANDS)}")
    ap.add_argument('--kills', type=int, default=20, help='kills per command (at least)')
    ap.add_argument('--seed', type=int, default=0, help='seed of the kill moments')
    ap.add_argument('--workdir', default=None, help='keep the runs here (default: a temporary folder)')
    ap.add_argument('--report', default=None, help='write the table into this markdown file (BENCHMARKS.md)')
    a = ap.parse_args(argv)
    names = [c.strip() for c in a.commands.split(',') if c.strip()]
    unknown = [c for c in names if c not in COMMANDS]
    if unknown: ap.error(f"--commands: unknown {unknown}; known: {', '.join(COMMANDS)}")
    if a.kills < 1: ap.error(f"--kills={a.kills} must be at least 1")
    t0 = time.time(); outs = []
    for c in names:
        print(f"{c}: {' '.join(COMMANDS[c])}", flush=True)
        wd = Path(a.workdir) / c if a.workdir else None
        outs.append(campaign(c, COMMANDS[c], a.kills, a.seed, wd))
        for p in outs[-1].problems: print(f"  PROBLEM {p}", flush=True)
    t = table(outs); print(t)
    if a.report:
        sys.path.insert(0, str(ROOT / 'benchmarks'))
        from _report import write_section
        cmd = f"python tools/kill_campaign.py --commands {','.join(names)} --kills {a.kills} --seed {a.seed}"
        body = (f"Each command runs on digits in a small configuration. A round kills it repeatedly (a timer at a seeded "
                f"random moment, or a crash injected half-way through a journal append, half-way through an atomic write, "
                f"or just before its rename), checks that every file left behind can be read, and runs the same command "
                f"line again until a run finishes by itself; the finished round is compared with an uninterrupted run of "
                f"the same seed (journal records exactly once each, result file equal but for times and paths).\n\n{t}\n\n"
                f"Total {time.time() - t0:.0f} s.")
        write_section('stress-kill-campaign', 'Kill campaign: every resumable command killed and resumed', cmd, body, Path(a.report))
    return 0 if all(not o.problems and o.identical == o.rounds for o in outs) else 1


if __name__ == '__main__':
    sys.exit(main())

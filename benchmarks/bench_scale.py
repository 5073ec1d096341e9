"""Scaling out, both engines side by side in one run: (1) one training with DDP on 1 and 2 processes (images per
second of the training epochs, the speed-up and the efficiency = speed-up / processes); (2) the per-evaluation
overhead of the executors on evaluations that do (almost) nothing, and their wall time on short real trainings:
Ray against the process pool, with the in-process executor as the floor. Medians of interleaved repeats.

    python benchmarks/bench_scale.py [--repeats 3] [--fraction 0.1] [--jobs 40] [--quick] [--out BENCHMARKS.md]
"""
import argparse, os, statistics, sys, tempfile, time
from pathlib import Path
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _report import write_section
from nasbook.data import find_fashion_source, data_root
from nasbook.execute import TrainEvaluator, FunctionEvaluator, LocalExecutor, ProcessExecutor, RayExecutor, die_once


def ddp_epoch_seconds(ev, nproc, n_train):
    "Seconds of the last training epoch (rank 0's clock, start-up and validation excluded) of one evaluation in `nproc` processes."
    m = ev({'w1': 16, 'w2': 32}, seed=0)
    assert m.ok, m.meta.get('error')
    assert m.meta.get('nproc', 1) == nproc, m.meta
    return m.meta['history'][-1]['seconds'], m.cost


def wall(executor, evaluator, jobs):
    t0 = time.perf_counter(); got = list(executor.run(evaluator, jobs)); t = time.perf_counter() - t0
    assert len(got) == len(jobs) and all(m.ok for _, m in got), [m for _, m in got if not m.ok][:1]
    return t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--repeats', type=int, default=3); ap.add_argument('--fraction', type=float, default=0.1)
    ap.add_argument('--jobs', type=int, default=40, help='near-empty evaluations per executor run')
    ap.add_argument('--trainings', type=int, default=6, help='short real trainings per executor run')
    ap.add_argument('--batch-size', type=int, default=64); ap.add_argument('--quick', action='store_true')
    ap.add_argument('--out', default=None)
    a = ap.parse_args(argv)
    if a.quick: a.repeats, a.fraction, a.jobs, a.trainings = 1, 0.01, 8, 1   # a smoke test: one of everything, small
    epochs = 1 if a.quick else 2
    torch.set_num_threads(1)
    name = 'fashion-mnist' if find_fashion_source(data_root()) else 'digits'
    kw = {'fraction': a.fraction} if name == 'fashion-mnist' else {}
    from nasbook.execute import cached_dataset
    n_train = len(cached_dataset(name, **kw).train)

    # (1) DDP: one training on 1 and 2 processes, same global batch
    evs = {k: TrainEvaluator(dataset=name, data_kw=kw, epochs=epochs, batch_size=a.batch_size, nproc=k) for k in (1, 2)}
    ddp = {1: [], 2: []}; cost = {1: [], 2: []}
    for _ in range(a.repeats):          # interleaved, so drifts in machine load hit both alike
        for k in (1, 2):
            s, c = ddp_epoch_seconds(evs[k], k, n_train); ddp[k].append(s); cost[k].append(c)
    ips = {k: n_train / statistics.median(v) for k, v in ddp.items()}
    speed = ips[2] / ips[1]
    rows = ['| processes | median s per epoch | images/s | speed-up | efficiency (speed-up / processes) | median s per evaluation (start-up included) |',
            '|---|---|---|---|---|---|']
    for k in (1, 2):
        rows.append(f"| {k} | {statistics.median(ddp[k]):.3f} | {ips[k]:,.0f} | {ips[k] / ips[1]:.2f}× | {ips[k] / ips[1] / k:.2f} | {statistics.median(cost[k]):.2f} |")

    # (2) executors: per-evaluation overhead (near-empty evaluations) and short real trainings
    marks = tempfile.mkdtemp()
    quick_jobs = [(i, {'x': i / a.jobs, 'marks': marks, 'die': False}, i) for i in range(a.jobs)]
    empty = FunctionEvaluator(die_once, 'near-empty')
    short = TrainEvaluator(dataset='digits', epochs=1, batch_size=64)
    train_jobs = [(i, {'w1': 8, 'w2': 16}, i) for i in range(a.trainings)]
    local = LocalExecutor()
    t0 = time.perf_counter(); pool = ProcessExecutor(2); wall(pool, empty, quick_jobs[:2]); pool_start = time.perf_counter() - t0
    t0 = time.perf_counter(); ray = RayExecutor(num_cpus=2); wall(ray, empty, quick_jobs[:2]); ray_start = time.perf_counter() - t0
    if not a.quick:
        for ex in (local, pool, ray): wall(ex, short, train_jobs[:2])      # warm: every worker (and this process) has loaded digits
    over = {'in process (local)': [], 'process pool, 2 workers': [], 'Ray, 2 CPUs': []}
    trains = {'in process (local)': [], 'process pool, 2 workers': [], 'Ray, 2 CPUs': []}
    try:
        for _ in range(a.repeats):
            for key, ex in zip(over, (local, pool, ray)):
                over[key].append(wall(ex, empty, quick_jobs) / len(quick_jobs))
                trains[key].append(wall(ex, short, train_jobs))
    finally: pool.close(); ray.close()
    rows2 = ['| executor | start-up s | median ms per near-empty evaluation | median s for the short trainings | ratio to the process pool (trainings) |',
             '|---|---|---|---|---|']
    pool_t = statistics.median(trains['process pool, 2 workers'])
    for key, start in zip(over, ('-', f"{pool_start:.1f}", f"{ray_start:.1f}")):
        rows2.append(f"| {key} | {start} | {1000 * statistics.median(over[key]):.1f} | {statistics.median(trains[key]):.2f} | "
                     f"{statistics.median(trains[key]) / pool_t:.2f} |")
    ray_over = 1000 * (statistics.median(over['Ray, 2 CPUs']) - statistics.median(over['process pool, 2 workers']))
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    nice = os.nice(0) if hasattr(os, 'nice') else 0
    body = (f"**The machine**: {os.cpu_count()} cores, shared with other jobs while this ran (load average {load:.1f} at the end; "
            f"this run at niceness {nice}), so these numbers are lower bounds on what the engines do and mostly show their costs.\n\n"
            f"**DDP, one training on 1 and 2 processes.** small_cnn(16, 32) on {name} ({n_train} training images), global batch "
            f"{a.batch_size} (each of 2 ranks trains on {a.batch_size // 2}), gloo on CPU, 1 torch thread per process; seconds "
            f"of the last training epoch on rank 0's clock, median of {a.repeats} interleaved repeats "
            f"(`TrainEvaluator(nproc=k)`; the last column adds spawning the processes, loading the data and validating).\n\n"
            + '\n'.join(rows) +
            f"\n\nWith 2 processes on 2 shared cores the speed-up is {speed:.2f}× (efficiency {speed / 2:.2f}): a step's gradient "
            "all-reduce (gloo, ~10⁴ parameters) and the second process compete with the training for the same two cores. "
            "DDP pays off when each process has a core or GPU of its own and the step is long against the all-reduce.\n\n"
            f"**Executors, many evaluations at once.** {a.jobs} near-empty evaluations (`die_once`, microseconds of work) "
            f"per run give the per-evaluation overhead; {a.trainings} short real trainings (small CNN, 1 epoch on digits) "
            f"per run show it against work; median of {a.repeats} interleaved repeats, after a warm-up run that started the "
            "workers and loaded the data.\n\n" + '\n'.join(rows2) +
            f"\n\nRay costs {ray_over:+.1f} ms more per evaluation than the process pool here (task submission, object store, "
            "scheduling); on evaluations of seconds or more it is noise, and it buys a cluster, retries of lost workers and "
            "CPU/GPU reservations.\n")
    cmd = 'python benchmarks/bench_scale.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
    path = write_section('scale', 'Scaling out: DDP processes and Ray against the process pool', cmd.strip(), body,
                         Path(a.out) if a.out else None)
    print(body); print(f"written to {path}")
    return {'speedup': speed, 'ray_overhead_ms': ray_over}


if __name__ == '__main__':
    main()

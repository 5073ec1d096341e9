"""The three executors give identical measurements for identical seeds (Ray included, which the
notebooks only run in full mode)."""
from nasbook.execute import LocalExecutor, ProcessExecutor, RayExecutor, TrainEvaluator

JOBS = [(i, {'w1': w, 'w2': w + 4}, 10 + i) for i, w in enumerate((4, 12, 20))]

def test_local_process_and_ray_agree():
    ev = TrainEvaluator(epochs=1)
    local = {k: m.value for k, m in LocalExecutor().run(ev, JOBS)}
    with ProcessExecutor(2) as ex: pooled = {k: m.value for k, m in ex.run(ev, JOBS)}
    with RayExecutor(num_cpus=2) as ex: rayed = {k: m.value for k, m in ex.run(ev, JOBS)}
    assert local == pooled == rayed and len(local) == 3 and all(0 < v <= 1 for v in local.values())

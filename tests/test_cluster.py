"""Searches on a real Ray cluster (`ray start --head` on this machine, loopback only, two CPUs): the same
result as in-process, and a Ray worker killed in the middle of an evaluation is retried so that the journal
holds that evaluation exactly once and the result equals an undisturbed run's."""
import json, os, shutil, signal, socket, subprocess, sys, time
from pathlib import Path
import pytest
from nasbook.core import Journal

BIN = Path(sys.executable).parent
RAY = shutil.which('ray', path=str(BIN)) or shutil.which('ray')
ARGS = ['random', '--budget', '4', '--epochs', '2', '--seed', '5', '--parallel', '2', '--quiet']

# Keep the whole cluster on loopback (Ray otherwise advertises the machine's outward address) and skip Ray's
# token authentication for this throw-away local cluster.
RAY_ENV = {'RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER': '0', 'RAY_AUTH_MODE': 'disabled', 'RAY_USAGE_STATS_ENABLED': '0'}

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    assert RAY, "the ray command is not installed (make install puts Ray in .venv)"
    port = _free_port()
    env = dict(os.environ, **RAY_ENV)
    tmp = tmp_path_factory.mktemp('ray')
    r = subprocess.run([RAY, 'start', '--head', '--node-ip-address', '127.0.0.1', '--port', str(port), '--num-cpus', '2',
                        '--include-dashboard', 'false', '--disable-usage-stats', '--temp-dir', str(tmp)],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    try: yield f"127.0.0.1:{port}"
    finally: subprocess.run([RAY, 'stop', '--force'], capture_output=True, env=env, timeout=120)

def _nasbook(args, out, address, **kw):
    exe = shutil.which('nasbook', path=str(BIN)) or shutil.which('nasbook')
    return subprocess.Popen([exe, *args, '--out', str(out), '--executor', 'ray', '--address', address],
                            env=dict(os.environ, OMP_NUM_THREADS='1', MPLBACKEND='Agg', **RAY_ENV), **kw)

def _records(out):
    return sorted((r['trial'], json.dumps(r['config'], sort_keys=True), r['value'], r['status']) for r in Journal(out / 'journal.jsonl'))

def _ray_workers():
    "PIDs of Ray worker processes running an evaluation (their title is ray::evaluate_safely)."
    ps = subprocess.run(['ps', '-eo', 'pid,args'], capture_output=True, text=True).stdout.splitlines()[1:]
    return [int(l.split(None, 1)[0]) for l in ps if 'ray::evaluate_safely' in l and 'ps -eo' not in l]

def test_search_on_cluster_survives_a_lost_worker(cluster, tmp_path):
    ref = _nasbook(ARGS, tmp_path / 'ref', cluster, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = ref.communicate(timeout=600); assert ref.returncode == 0, err.decode()[-2000:]
    p = _nasbook(ARGS, tmp_path / 'hit', cluster, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    t0, killed = time.time(), None
    while killed is None and p.poll() is None and time.time() - t0 < 300:
        w = _ray_workers()
        if w: time.sleep(0.5); os.kill(w[0], signal.SIGKILL); killed = w[0]
        else: time.sleep(0.05)
    out, err = p.communicate(timeout=600)
    assert killed is not None, 'no Ray worker was seen evaluating'
    assert p.returncode == 0, err.decode()[-2000:]
    got, want = _records(tmp_path / 'hit'), _records(tmp_path / 'ref')
    assert [t for t, *_ in got] == [0, 1, 2, 3]                       # every evaluation exactly once
    assert got == want and all(s == 'ok' for *_, s in got)            # and as in the undisturbed run
    a, b = (json.loads((tmp_path / d / 'summary.json').read_text()) for d in ('hit', 'ref'))
    assert (a['best_config'], a['best_value']) == (b['best_config'], b['best_value'])

def test_unreachable_cluster_is_a_clear_error(tmp_path):
    exe = shutil.which('nasbook', path=str(BIN)) or shutil.which('nasbook')
    r = subprocess.run([exe, *ARGS, '--out', str(tmp_path / 'x'), '--executor', 'ray', '--address', f'127.0.0.1:{_free_port()}'],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, **RAY_ENV))
    assert r.returncode != 0 and 'cannot reach a Ray cluster' in r.stderr, r.stderr[-1500:]

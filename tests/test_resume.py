"""Resume after kill: a search killed with SIGKILL at several points and resumed each time ends with a
journal that holds every trial exactly once, and the same result as an uninterrupted run."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest
from nasbook.core import Journal

HERE = Path(__file__).parent

def _lines(path):
    return [l for l in Path(path).read_text().splitlines()[1:]] if Path(path).exists() else []

def _run(journal, budget, batch, sleep=0.0):
    out = subprocess.run([sys.executable, str(HERE/'_search_job.py'), str(journal), str(budget), str(batch), str(sleep)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])

def _kill_after(journal, budget, batch, n_records, sleep=0.15):
    "Start the job, SIGKILL it once the journal holds at least n_records trials."
    p = subprocess.Popen([sys.executable, str(HERE/'_search_job.py'), str(journal), str(budget), str(batch), str(sleep)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    while len(_lines(journal)) < n_records:
        assert p.poll() is None, f"job ended before it was killed: {p.stderr.read().decode()}"
        assert time.time() - t0 < 120, 'job too slow'
        time.sleep(0.01)
    p.send_signal(signal.SIGKILL); p.wait()
    return len(_lines(journal))

@pytest.mark.parametrize('batch', [1, 3])
def test_kill_and_resume(tmp_path, batch):
    budget = 14
    ref = _run(tmp_path/'ref.jsonl', budget, batch)
    j = tmp_path/'killed.jsonl'
    seen = []
    for k in (1, 4, 9):   # kill at several points, resuming each time
        before = _lines(j)
        seen.append(_kill_after(j, budget, batch, k))
        assert _lines(j)[:len(before)] == before, 'a resumed search rewrote finished records'
    assert seen == sorted(seen) and seen[-1] < budget
    res = _run(j, budget, batch)
    assert res['evaluated'] == budget - seen[-1]
    recs, refs = Journal(j).records, Journal(tmp_path/'ref.jsonl').records
    trials = [r['trial'] for r in recs]
    assert sorted(trials) == list(range(budget)) and len(set(trials)) == budget   # each exactly once
    by_trial = {r['trial']: r for r in recs}
    for r in refs:
        assert by_trial[r['trial']]['config'] == r['config'] and by_trial[r['trial']]['value'] == r['value']
    assert res['best_config'] == ref['best_config'] and res['best_value'] == ref['best_value']

def test_torn_last_line_is_recovered(tmp_path):
    "A kill in the middle of a write leaves a torn line: it is set aside and the trial is run again."
    j = tmp_path/'j.jsonl'
    _run(j, 5, 1)
    full = j.read_text()
    lines = full.splitlines(True)
    j.write_text(''.join(lines[:4]) + lines[4][:20])      # meta + 3 records + a torn 4th
    res = _run(j, 5, 1)
    assert res['evaluated'] == 2
    assert j.read_text() .splitlines()[:4] == full.splitlines()[:4]
    assert (tmp_path/'j.jsonl.torn').read_text().strip() == lines[4][:20]
    assert [r['trial'] for r in Journal(j).records] == list(range(5))

def test_cli_training_search_killed_and_resumed(tmp_path, nasbook_cmd):
    "The real thing: `nasbook random` training CNNs on digits, killed mid-search and run again."
    args = [nasbook_cmd, 'random', '--budget', '5', '--epochs', '1', '--quiet', '--seed', '3']
    ref = subprocess.run(args + ['--out', str(tmp_path/'ref')], capture_output=True, text=True, timeout=600)
    assert ref.returncode == 0, ref.stderr
    out = tmp_path/'killed'; j = out/'journal.jsonl'
    p = subprocess.Popen(args + ['--out', str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while len(_lines(j)) < 2:
        assert p.poll() is None and time.time() - t0 < 300
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL); p.wait()
    done_before = len(_lines(j))
    assert done_before < 5
    again = subprocess.run(args + ['--out', str(out)], capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert f"{5 - done_before} run now" in again.stdout
    a, b = Journal(j).records, Journal(tmp_path/'ref'/'journal.jsonl').records
    assert [r['trial'] for r in a] == list(range(5))
    assert [(r['config'], r['value']) for r in a] == [(r['config'], r['value']) for r in b]

"""The kill campaign in small: every resumable command killed at seeded moments (a timer, or inside a journal
append or an atomic write) and resumed until it finishes, then compared with an uninterrupted run.
`make stress` runs 20 kills per command (tools/kill_campaign.py)."""
import importlib.util, json, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('kill_campaign', ROOT / 'tools' / 'kill_campaign.py')
kc = importlib.util.module_from_spec(spec); sys.modules['kill_campaign'] = kc; spec.loader.exec_module(kc)

# a few kills per command: the cheap searches twice, the one-shot searches once (each round reruns them)
KILLS = {'random': 2, 'spline': 2, 'bonsai': 1, 'spider': 1, 'nasib': 1, 'nasrl': 1, 'nasnet': 1, 'train': 1, 'transfer': 1}

def test_every_command_is_in_the_campaign():
    assert set(KILLS) == set(kc.COMMANDS)

@pytest.mark.parametrize('name', list(KILLS))
def test_killed_and_resumed_equals_uninterrupted(name, tmp_path):
    o = kc.campaign(name, kc.COMMANDS[name], KILLS[name], seed=0, workdir=tmp_path, log=lambda *a: None)
    assert not o.problems, o.problems
    assert o.kills >= KILLS[name] and o.resumed_ok == o.kills
    assert o.rounds >= 1 and o.identical == o.rounds

def test_the_comparison_can_fail(tmp_path):
    "The campaign's checks see a changed value, a repeated trial and an unreadable file."
    from nasbook.core import Journal
    a, b = tmp_path / 'a', tmp_path / 'b'
    for d, v in ((a, 0.5), (b, 0.6)):
        j = Journal(d / 'journal.jsonl', meta={'s': 1}); j.append({'trial': 0, 'config': {'w': 1}, 'value': v, 'status': 'ok'})
        (d / 'summary.json').write_text(json.dumps({'best_value': v, 'seconds': 3.0, 'journal': str(d)}))
    assert kc.signature(a) != kc.signature(b)
    (b / 'journal.jsonl').write_text((a / 'journal.jsonl').read_text()); (b / 'summary.json').write_text(
        json.dumps({'best_value': 0.5, 'seconds': 9.0, 'journal': str(b)}))
    assert kc.signature(a) == kc.signature(b)          # times and paths do not count
    (b / 'result.json').write_text('{"genotype": [1, 2')
    bad = kc.unreadable(b)
    assert len(bad) == 1 and bad[0].startswith('result.json: JSONDecodeError'), bad
    assert kc.unreadable(a) == []

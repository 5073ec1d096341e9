"""The command line: help on every subcommand, a short real run, one-line errors for bad arguments."""
import json, subprocess
from pathlib import Path
import pytest
from nasbook.cli import parser

def run(cmd, *args, timeout=600):
    return subprocess.run([cmd, *args], capture_output=True, text=True, timeout=timeout)

def subcommands():
    p = parser()
    return list(next(a for a in p._actions if a.dest == 'command').choices)

def test_help_everywhere(nasbook_cmd):
    top = run(nasbook_cmd, '--help'); assert top.returncode == 0
    subs = subcommands(); assert {'datasets', 'random'} <= set(subs)
    for s in subs:
        h = run(nasbook_cmd, s, '--help'); assert h.returncode == 0, s
        assert s in top.stdout and 'usage: nasbook ' + s in h.stdout

def test_datasets_lists_what_is_here(nasbook_cmd):
    out = run(nasbook_cmd, 'datasets'); assert out.returncode == 0
    lines = {l.split()[0]: l for l in out.stdout.splitlines()}
    assert 'bundled' in lines['digits'] and set(lines) >= {'digits', 'fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'imagefolder'}

def test_short_real_run(tmp_path, nasbook_cmd):
    out = run(nasbook_cmd, 'random', '--budget', '3', '--epochs', '2', '--out', str(tmp_path/'r'), '--quiet')
    assert out.returncode == 0, out.stderr
    s = json.loads((tmp_path/'r'/'summary.json').read_text())
    assert s['trials'] == 3 and s['best_value'] > 0.5 and 'validation accuracy' in out.stdout
    assert (tmp_path/'r'/'search.png').stat().st_size > 5000
    again = run(nasbook_cmd, 'random', '--budget', '3', '--epochs', '2', '--out', str(tmp_path/'r'), '--quiet')
    assert '0 run now' in again.stdout

@pytest.mark.parametrize('args,msg', [
    (['random', '--budget', 'many'], "argument --budget: 'many' is not a int"),
    (['random', '--budget', '-2'], "argument --budget: '-2' must be > 0"),
    (['random', '--epochs', '0'], "argument --epochs: '0' must be > 0"),
    (['random', '--dataset', 'imagenet'], "argument --dataset: invalid choice: 'imagenet'"),
    (['random', '--executor', 'slurm'], "argument --executor: invalid choice: 'slurm'"),
    (['random', '--space', 'transformers'], "--space 'transformers' is unknown"),
    (['random', '--fraction', '2'], 'fraction=2.0 is too large'),
    (['random'], 'the following arguments are required: --out'),
    (['frobnicate'], "invalid choice: 'frobnicate'"),
])
def test_bad_arguments_one_line(tmp_path, nasbook_cmd, args, msg):
    if args[0] == 'random' and '--out' not in args and args != ['random']: args = args + ['--out', str(tmp_path/'o')]
    out = run(nasbook_cmd, *args)
    assert out.returncode == 2, out
    assert msg in out.stderr and 'Traceback' not in out.stderr
    assert out.stderr.strip().splitlines()[-1].count('error') == 1

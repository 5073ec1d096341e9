"""Execute a notebook in place for its outputs, skipping cells flagged `#| slow` (they keep no output and say so).

    python tools/execute_nb.py NOTEBOOK [NOTEBOOK ...] [--all]   (--all: run slow cells too)
"""
import os, sys, time
import nbformat
from nbclient import NotebookClient

def execute(path, run_slow=False):
    nb = nbformat.read(path, as_version=4)
    skipped = {}
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'code' and not run_slow and c.source.lstrip().startswith('#| slow'):
            skipped[i] = c.source; c.source = '# (slow cell: not executed here)'
    t0 = time.time()
    NotebookClient(nb, timeout=None, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute()
    for i, src in skipped.items(): nb.cells[i].source = src; nb.cells[i].outputs = []; nb.cells[i].execution_count = None
    nbformat.write(nb, path)
    return time.time() - t0, len(skipped)

if __name__ == '__main__':
    from pathlib import Path
    # the kernel must draw with the inline backend: MPLBACKEND=Agg (what the test suite sets) would silently
    # drop every figure from the executed notebook
    os.environ.pop('MPLBACKEND', None)
    run_slow = '--all' in sys.argv
    for p in [Path(a) for a in sys.argv[1:] if a != '--all']:
        secs, n = execute(p, run_slow)
        print(f"{p}: {secs:.0f} s, {n} slow cells skipped")

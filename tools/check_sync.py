"""CI check: the notebooks are the source. Fails when `nbdev_export` would change the package
(exported code and notebooks disagree) or `nbdev_clean` would change a notebook."""
import hashlib, subprocess, sys
from pathlib import Path

root = Path(__file__).resolve().parents[1]
bin_ = Path(sys.executable).parent

def snapshot(pattern_dirs, ext):
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for d in pattern_dirs for p in sorted((root / d).rglob(f'*{ext}')) if '.ipynb_checkpoints' not in p.parts}

def changed(before, after):
    return sorted(str(p.relative_to(root)) for p in set(before) | set(after) if before.get(p) != after.get(p))

ok = True
pkg0 = snapshot(['nasbook'], '.py')
subprocess.run([bin_ / 'nbdev_export'], cwd=root, check=True)
diff = changed(pkg0, snapshot(['nasbook'], '.py'))
if diff:
    ok = False
    print('nbdev_export changed the package; the notebooks are the source. Export, then commit both:\n  ' + '\n  '.join(diff))
nb0 = snapshot(['nbs', 'nas_notebooks'], '.ipynb')
subprocess.run([bin_ / 'nbdev_clean'], cwd=root, check=True)
diff = changed(nb0, snapshot(['nbs', 'nas_notebooks'], '.ipynb'))
if diff:
    ok = False
    print('nbdev_clean changed notebooks; run nbdev_clean before committing:\n  ' + '\n  '.join(diff))
# nbdev's docs step executes every cell that holds an import (to render show_doc); a cell that mixes
# imports with code that needs earlier cells breaks the docs. Imports stand alone in their cells
# (the same rule as nbdev's warning "Found cells containing imports and other code").
import ast, json
def _has(tree, types): return any(isinstance(n, types) for n in ast.walk(tree))
for nbp in sorted(nb0):
    for i, c in enumerate(json.loads(nbp.read_text())['cells']):
        src = ''.join(c['source'])
        if c['cell_type'] != 'code' or any(f'#| {d}' in src for d in ('export', 'exporti', 'exports', 'exec_doc')): continue
        try: tree = ast.parse('\n'.join(l for l in src.splitlines() if not l.lstrip().startswith(('%', '!'))))
        except SyntaxError: continue
        if _has(tree, (ast.Import, ast.ImportFrom)) and _has(tree, (ast.Expr, ast.Assign)):
            ok = False
            print(f"{nbp.relative_to(root)} cell {i}: imports mixed with other code; put imports in a cell of their own")
print('notebooks and package agree' if ok else 'check-sync FAILED')
sys.exit(0 if ok else 1)

"""The docs build (without Quarto): every notebook becomes a page, no notebook holds an error output."""
import json, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def test_docs_build_renders_every_notebook(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT/'tools'/'build_docs.py'), '--out', str(tmp_path/'site'), '--no-readme'],
                         capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    pages = json.loads((tmp_path/'site'/'pages.json').read_text())
    want = sorted(str(p.relative_to(ROOT)) for d in ('nbs', 'nas_notebooks') for p in (ROOT/d).glob('*.ipynb'))
    assert sorted(p['source'] for p in pages) == want
    index = (tmp_path/'site'/'index.html').read_text()
    for p in pages:
        html = (tmp_path/'site'/p['page']).read_text()
        assert len(html) > 2000 and p['page'] in index
        assert 'Traceback (most recent call last)' not in html, p['page']
    # directives are processed away: no '#| export' shows in a page
    assert not any('#| export' in (tmp_path/'site'/p['page']).read_text() for p in pages)

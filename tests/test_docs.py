"""The docs site built without Quarto (tools/build_docs.py), read in headless Chromium as a reader sees it.

The site is built once per test session (shared by pytest-xdist's workers through a lock) and every
page is opened once in one Chromium (tools/check_site.py); the tests below assert on what the pages
show. Chromium is Debian's `chromium` package: .ci/run and `make test` install it when run as root;
without it these tests fail and say how to install it.
"""
import json, re, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tools'))
import check_site  # noqa: E402
from build_docs import directives, reading_order  # noqa: E402

NOTEBOOKS = sorted(str(p.relative_to(ROOT)) for d in ('nbs', 'nas_notebooks') for p in (ROOT / d).glob('*.ipynb'))


def _shared_dir(tmp_path_factory, worker_id):
    base = tmp_path_factory.getbasetemp()
    return base if worker_id == 'master' else base.parent


@pytest.fixture(scope='session')
def worker_id(request):
    return getattr(request.config, 'workerinput', {}).get('workerid', 'master')


@pytest.fixture(scope='session')
def built(tmp_path_factory, worker_id):
    "Build the site once per session: (site folder, pages, build log)."
    from filelock import FileLock
    shared = _shared_dir(tmp_path_factory, worker_id)
    site, log = shared / 'docs-site', shared / 'docs-build.json'
    with FileLock(str(shared / 'docs-build.lock')):
        if not log.exists():
            r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'build_docs.py'), '--out', str(site),
                                '--no-readme', '--no-check'], capture_output=True, text=True, cwd=ROOT, timeout=900)
            log.write_text(json.dumps({'rc': r.returncode, 'out': r.stdout[-4000:] + r.stderr[-4000:]}))
    b = json.loads(log.read_text())
    assert b['rc'] == 0, b['out']
    return site, json.loads((site / 'pages.json').read_text()), b['out']


@pytest.fixture(scope='session')
def rendered(built, tmp_path_factory, worker_id):
    "Every page read once in headless Chromium (offline), plus a search and the screenshots."
    site, pages, _ = built
    if not check_site.find_chromium(): pytest.fail(check_site.MISSING)
    from filelock import FileLock
    shared = _shared_dir(tmp_path_factory, worker_id)
    facts_file = shared / 'docs-facts.json'
    with FileLock(str(shared / 'docs-facts.lock')):
        if not facts_file.exists():
            facts = check_site.read_site(site, pages, screenshots=site / '_screenshots')
            # keep the screenshots where a person looks for them
            keep = ROOT / '_docs' / '_screenshots'; keep.mkdir(parents=True, exist_ok=True)
            for s in facts['shots']: shutil.copy(s, keep / Path(s).name)
            facts_file.write_text(json.dumps(facts))
    return json.loads(facts_file.read_text())


def _hidden_lines(src: str) -> list:
    "Distinctive code lines of the cells nbdev hides in the docs (`#| hide`, `#| export`, `#| include: false`)."
    nb = json.loads((ROOT / src).read_text())
    hidden, shown = [], set()
    for c in nb['cells']:
        if c['cell_type'] != 'code': continue
        opts, code = directives(''.join(c['source']))
        lines = [l.strip() for l in code.splitlines() if len(l.strip()) >= 25 and not l.strip().startswith('#')]
        if opts.get('hide') is True or opts.get('export') is True or opts.get('include') == 'false': hidden += lines
        else: shown.update(lines)
    return [l for l in hidden if l not in shown]


def _math_in_source(src: str) -> int:
    "Formulas ($...$ or $$...$$) in a notebook's markdown cells."
    nb = json.loads((ROOT / src).read_text())
    md = '\n'.join(''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'markdown')
    md = re.sub(r'`[^`\n]*`', '', md)
    return len(re.findall(r'\$\$.+?\$\$|\$[^$\s][^$\n]*?\$', md, re.S))


def test_every_notebook_is_a_page_in_reading_order(built):
    site, pages, _ = built
    assert sorted(p['source'] for p in pages) == NOTEBOOKS        # a new notebook needs no list to be edited
    home, sections = reading_order(ROOT)
    assert pages[0]['source'] == home == 'nbs/index.ipynb' and pages[0]['page'] == 'index.html'
    assert [p['source'] for p in pages[1:]] == [s for _, ps in sections for s in ps]
    # _quarto.yml's two sections, each in file-name order (as Quarto lists a glob)
    assert [t for t, _ in sections] == ['Library (nbs/)', 'Walkthroughs (nas_notebooks/)']
    for _, ps in sections: assert ps == sorted(ps) and len(ps) >= 1
    assert (site / 'search.html').exists() and (site / 'searchindex.js').exists()
    assert (site / '_static' / 'mathjax' / 'tex-chtml.js').exists()       # MathJax ships with the site
    # README.md is generated from the home notebook (by `make docs`): its title and subtitle lead it
    readme = (ROOT / 'README.md').read_text()
    first = ''.join(json.loads((ROOT / home).read_text())['cells'][0]['source'])
    assert readme.startswith('<!-- generated from nbs/index.ipynb')
    assert f"# {re.search(r'^# (.+)$', first, re.M)[1]}" in readme and first.split('> ', 1)[1].split('\n')[0] in readme


def test_pages_show_no_source_syntax(built, rendered):
    site, pages, _ = built
    for p in pages:
        f = rendered['pages'][p['page']]
        assert len(f['prose']) > 200, p['page']
        assert '{target=' not in f['text'], p['page']
        assert not any(l.strip().startswith(('title:', 'output-file:', "description: '")) or l.strip() == '---'
                       for l in f['prose'].splitlines()), p['page']
        assert '#|' not in f['prose'], p['page']
        assert not any(l.lstrip().startswith('#|') for c in f['code'] for l in c.splitlines()), p['page']
        assert not re.search(r'(In|Out)\s*\[\d*\]:', f['prose']), p['page']
        assert 'Traceback (most recent call last)' not in f['text'], p['page']
        assert f['styled'], p['page']


def test_hidden_cells_stay_hidden(built, rendered):
    site, pages, _ = built
    n = 0
    for p in pages:
        code = {l.strip() for c in rendered['pages'][p['page']]['code'] for l in c.splitlines()}
        for line in _hidden_lines(p['source']):
            assert line not in code, (p['page'], line)
            n += 1
    assert n >= 100       # the exported definitions and `#| hide` cells of every library notebook


def test_show_doc_renders_signatures_with_source_links(built, rendered):
    site, pages, _ = built
    git_url = re.search(r'^git_url\s*=\s*(\S+)', (ROOT / 'settings.ini').read_text(), re.M)[1]
    for p in pages:
        f = rendered['pages'][p['page']]
        exported = any(re.search(r'^(def|class) [A-Za-z]', directives(''.join(c['source']))[1], re.M)
                       for c in json.loads((ROOT / p['source']).read_text())['cells']
                       if c['cell_type'] == 'code' and directives(''.join(c['source']))[0].get('export'))
        assert (len(f['signatures']) > 0) == exported, p['page']     # one block per documented name
        assert len(f['sources']) == len(f['signatures']), p['page']  # each with its source link
        for sig in f['signatures']: assert re.match(r'(async )?(def|class) \w+', sig), (p['page'], sig)
        for url in f['sources']: assert url.startswith(git_url + '/blob/'), (p['page'], url)


def test_titles_and_descriptions_come_from_the_front_matter(built, rendered):
    site, pages, _ = built
    for p in pages:
        f = rendered['pages'][p['page']]
        nb = json.loads((ROOT / p['source']).read_text())
        first = ''.join(nb['cells'][0]['source'])
        title = re.search(r'^# (.+)$', first, re.M)[1].strip()
        sub = re.sub(r'[`*]', '', ' '.join(l[1:].strip() for l in first.splitlines() if l.startswith('>')))
        assert f['h1'] == p['title'] == title, p['page']
        assert f['title'].startswith(title), (p['page'], f['title'])
        assert sub and f['description'] == sub, p['page']          # <meta name="description">
        assert sub in ' '.join(f['text'].split()), p['page']   # and the lead under the title


def test_images_load_and_links_resolve(built, rendered):
    site, pages, _ = built
    assert sum(len(f['images']) for f in rendered['pages'].values()) >= 20    # the walkthroughs' figures
    by_path = {(site / p['page']).resolve(): p['page'] for p in pages}
    for p in pages:
        doclinks = 0
        f = rendered['pages'][p['page']]
        for im in f['images']: assert im['loaded'], (p['page'], im['src'])
        # offline: nothing fetched from the network, no script, style, font or image failed to load
        assert f['outside'] == [] and f['failed'] == [], (p['page'], f['outside'], f['failed'])
        for href in f['links']:
            assert 'nasbook.github.io' not in href, (p['page'], href)   # doclinks point into this site
            t = check_site.link_target(site, href)
            if t is None: continue
            path, frag = t
            assert path.exists(), (p['page'], href)
            target = by_path.get(path.resolve())
            if frag and target:
                assert frag in rendered['pages'][target]['ids'], (p['page'], href)
                if target.startswith('nbs/'): doclinks += 1
        # the backticked names nbdev linked (doclinks) lead to their documentation in this site
        assert doclinks >= p['doclinks'], (p['page'], doclinks, p['doclinks'])
    assert sum(p['doclinks'] for p in pages) >= 100


def test_formulas_are_typeset(built, rendered):
    site, pages, _ = built
    with_math = 0
    for p in pages:
        f = rendered['pages'][p['page']]
        assert f['mathTypeset'] == f['math'], p['page']      # every formula went through MathJax
        assert '$$' not in f['prose'] and '\\(' not in f['prose'] and '\\[' not in f['prose'], p['page']
        want = _math_in_source(p['source'])
        assert (f['math'] > 0) == (want > 0), (p['page'], f['math'], want)
        with_math += want > 0
    assert with_math >= 3


def test_sidebar_prev_next_and_search(built, rendered):
    site, pages, _ = built
    every = {(site / p['page']).resolve() for p in pages}
    order = [p['page'] for p in pages]
    by_path = {(site / p['page']).resolve(): p['page'] for p in pages}
    for i, p in enumerate(pages):
        f = rendered['pages'][p['page']]
        assert f['sidebarShown'], p['page']
        assert {check_site.link_target(site, h)[0].resolve() for h in f['sidebar']} >= every, p['page']
        assert f['sidebarSections'] == ['Library (nbs/)', 'Walkthroughs (nas_notebooks/)'], p['page']
        nxt = by_path.get(check_site.link_target(site, f['next'])[0].resolve()) if f['next'] else None
        assert nxt == (order[i + 1] if i + 1 < len(order) else None), p['page']
        if i:
            assert by_path.get(check_site.link_target(site, f['prev'])[0].resolve()) == order[i - 1], p['page']
        assert f['search'], p['page']
    # full-text search (Sphinx's, offline): every hit for 'supernet' is a page of ours that says it
    found = {by_path.get(check_site.link_target(site, h)[0].resolve()) for h in rendered['search']}
    assert len(found) >= 3 and None not in found, rendered['search']
    for page in found: assert 'supernet' in rendered['pages'][page]['text'].lower(), page


def test_checker_agrees_and_screenshots_are_kept(built, rendered):
    site, pages, _ = built
    assert check_site.problems(site, pages, rendered) == []
    names = sorted(Path(s).name for s in rendered['shots'])
    assert names == ['home.png', 'walkthrough-figure.png', 'walkthrough.png']
    for n in names:
        png = (ROOT / '_docs' / '_screenshots' / n).read_bytes()
        assert png[:8] == b'\x89PNG\r\n\x1a\n' and len(png) > 50_000, n      # a page, not a blank

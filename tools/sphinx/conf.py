"""Sphinx configuration of the docs site built without Quarto (tools/build_docs.py).

Sphinx reads the notebooks that build_docs.py stages from nbdev's `_proc/` (MyST-NB, never executed);
the book theme gives the sidebar, previous/next links and search; MathJax ships in the build
(sphinx-mathjax-offline), so formulas render offline. Project facts come from settings.ini.
"""
import configparser
from pathlib import Path

_ini = configparser.ConfigParser(interpolation=None)
_ini.read(Path(__file__).resolve().parents[2] / 'settings.ini')
_s = _ini['DEFAULT']

project = _s['title']
author = _s['author']
copyright = _s['copyright']
release = version = _s['version']

extensions = ['myst_nb']
exclude_patterns = ['**.ipynb_checkpoints', '_doctrees']
root_doc = 'index'
smartquotes = False          # show the notebooks' quotes as written

# MyST: $..$ and $$..$$ math, {.class} attributes, raw HTML images
myst_enable_extensions = ['dollarmath', 'amsmath', 'attrs_block', 'attrs_inline', 'colon_fence', 'html_image']
myst_dmath_double_inline = True
myst_heading_anchors = 0
# MyST-NB: the notebooks are executed already (never re-run them here)
nb_execution_mode = 'off'
nb_merge_streams = True
nb_render_markdown_format = 'myst'
nb_ipywidgets_js = {}
suppress_warnings = ['myst.header', 'mystnb.unknown_mime_type', 'misc.highlighting_failure', 'myst.xref_missing']

html_theme = 'sphinx_book_theme'
html_title = project
html_static_path = ['_static']
html_css_files = ['nasbook.css']
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
html_theme_options = {
    'repository_url': _s['git_url'],
    'repository_branch': _s.get('branch', 'main'),
    'use_repository_button': True,
    'home_page_in_toc': True,
    'show_navbar_depth': 1,
    'show_toc_level': 2,
    'navigation_with_keys': False,
    'extra_footer': f"<p>{_s['description']}. Built from the notebooks with nbdev's processors and Sphinx.</p>",
}


def setup(app):
    # sphinx-mathjax-offline copies its MathJax into _static/mathjax and points mathjax_path at it; its
    # module name has dashes and it does not declare itself parallel-safe (it is), so it is set up here.
    import importlib
    importlib.import_module('sphinx-mathjax-offline').setup(app)

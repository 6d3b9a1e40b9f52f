"""mkdocs hook: the tutorials link each other and the docs file to file (``03_vanishing_exploding.py``,
``NOTATION.md``, ``../docs/kernels.md``), which works in Jupyter and on GitHub; on the site each
tutorial is a page in a folder of its own, so those links are made to point at the pages."""
import re

_FILE_LINK = re.compile(r'href="(\.\./docs/)?([\w-]+)\.(?:py|md)(#[^"]*)?"')


def on_page_content(html, page, config, files):
    if not (page.file.src_uri.startswith("tutorials/") and page.file.src_uri.endswith(".py")):
        return html
    return _FILE_LINK.sub(lambda link: f'href="{"../.." if link[1] else ".."}/{link[2]}/{link[3] or ""}"',
                          html)

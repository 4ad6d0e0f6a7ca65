"""mkdocs hook: writes the reference pages from the code at build time.

mkdocs.yml names this file under ``hooks:``. ``on_files`` adds reference/cli.md,
reference/bindings.md, reference/backbones.md, reference/callbacks.md and
reference/layout.md as generated files (never committed, so they cannot drift). A
generator that cannot find what it reads (a module moved: see refsources.py) stops the
build with the cause, also without --strict.
"""

import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import refcli  # noqa: E402
import refplugins  # noqa: E402
import refsources  # noqa: E402
from mkdocs.exceptions import PluginError  # noqa: E402
from mkdocs.structure.files import File  # noqa: E402

log = logging.getLogger('mkdocs.hooks.reference')


def pages():
    """{page path under docs/: markdown} of every generated reference page."""
    generated = {'reference/cli.md': refcli.cli_page(),
                 'reference/layout.md': refcli.layout_page()}
    src = refplugins.Sources()
    generated['reference/bindings.md'] = refplugins.bindings_page(src)
    generated['reference/backbones.md'] = refplugins.backbones_page(src)
    generated['reference/callbacks.md'] = refplugins.callbacks_page(src)
    return generated


def on_files(files, config):
    start = time.time()
    try:
        refsources.load(refsources.QUIET_STARTUP)(False)
        generated = pages()
    except refsources.SourceError as e:
        raise PluginError(str(e)) from None
    for path, text in generated.items():
        if files.get_file_from_path(path) is not None:
            raise PluginError(f'docs/{path} is generated at build time: delete the '
                              'committed copy.')
        files.append(File.generated(config, path, content=text))
    log.info('Generated %d reference pages in %.1f s', len(generated), time.time() - start)
    return files

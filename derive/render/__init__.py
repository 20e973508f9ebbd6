"""Typesetting: printers for each format (``printing``), the Jinja formats and templates
(``formats``), and what every explanation can become (``document``).

``derive.render.render`` and ``derive.render.templates_dir`` are the formats module's, for
callers (and the README) that ask the package."""


def __getattr__(name):
    import importlib

    if name.startswith("__"):
        raise AttributeError(name)
    if name in ("notation", "printing", "formats", "document"):  # a submodule not yet imported
        return importlib.import_module(f"derive.render.{name}")
    formats = importlib.import_module("derive.render.formats")  # not "from … import": that asks here again
    try:
        return getattr(formats, name)
    except AttributeError:
        raise AttributeError(f"module 'derive.render' has no attribute {name!r}") from None

"""Built-in node kinds. Importing this module registers them; the list is explicit on purpose."""

from . import convert, resize, stack  # noqa: F401

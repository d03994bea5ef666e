"""Glacier's version, in a module of its own so every layer can name it without ``glacier``."""

__version__ = "0.1.0"

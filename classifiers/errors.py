"""The classifier's errors, in a module of their own: the CLI and the web app tell
them apart from bugs without importing scikit-learn (seconds per process)."""
from __future__ import annotations


class ModelNotFound(FileNotFoundError):
    """No trained model where one was expected."""


class ModelIntegrityError(Exception):
    """A model file is not the one its meta.json describes, or holds untrusted types."""


class ModelFormatError(ModelNotFound):
    """A model saved by an older tagwatch, in a format this one does not read: retrain.

    A kind of ModelNotFound, so what trains a model when there is none
    (`make demo`) also replaces one of an old format.
    """

"""Front end: the ``responder`` command."""
from responder.cli.main import main

__all__ = ["main"]

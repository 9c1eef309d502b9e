"""responder: an e-mail auto-responder with a cooling-off delay for small online sellers."""

__version__ = "0.1.0"

"""The rep's web page: a front end beside ``responder.cli``.

Flask renders the Jinja templates in ``templates/web/``; every action calls the same
application functions as the CLI (``responder.app.actions``, ``responder.app.accounts``).
``responder web`` serves it with waitress; ``responder run`` does too when
``[web] enabled = true``.
"""
from responder.web.app import WebContext, create_app
from responder.web.server import WebServer, start_server

__all__ = ["WebContext", "WebServer", "create_app", "start_server"]

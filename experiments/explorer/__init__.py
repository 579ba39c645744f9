"""The interactive explorer: `python -m experiments explore`, a Dash app over the vectorized engine.

Its jobs, one module each: `state` (the view and its URL: the query string is the whole view),
`cache` (the simulations: the last views cached, a memory gate over views and downloads),
`charts` (the figures a view draws, from experiments.reporting.figures), `layout` (the page and
its style.css) and `callbacks` (the page's callbacks as plain functions, and the Dash app).
"""

from __future__ import annotations


def serve(host: str = "127.0.0.1", port: int = 8050) -> None:
    """Run the explorer until interrupted (Ctrl+C or SIGTERM), on a threaded server."""
    import logging
    import signal

    from experiments.explorer import callbacks

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request

    def _stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        app = callbacks.make_app()
        print(f"SESH explorer on http://{host}:{port}/ (Ctrl+C to stop)", flush=True)
        app.run(host=host, port=port, debug=False, threaded=True)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)

"""Reporting: plotly figures, the HTML report (Jinja2 templates), the publish site and the
notebook runner. Imports analysis, engines and the model, never the command line."""

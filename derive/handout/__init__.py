"""Handouts: a TOML problem set in, Markdown, LaTeX, PDF or HTML out."""

"""Reading what people type: plain text (``text``) and LaTeX answers (``latex``), safely."""

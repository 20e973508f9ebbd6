"""What every explanation (a derivation, a gradient, the vector form) can become."""

import json


class Document:
    """Text, Markdown, LaTeX, HTML and JSON through one ``render``; ``to_dict`` is the subclass's."""

    introduced = None  # in a handout: the problem that already set out this model and loss
    compact = False  # in a handout: the lesson's four steps of descent are left to the lesson

    def render(self, fmt="text", *, color=False, standalone=False, directory=None):
        """The document in ``fmt``; a subclass with templates of its own overrides this."""
        from derive.render.formats import render

        if fmt == "json":
            return self.to_json() + "\n"
        return render(self, fmt, color=color, standalone=standalone, directory=directory)

    def to_text(self, color=False):
        return self.render("text", color=color)

    def to_markdown(self):
        return self.render("markdown")

    def to_latex(self, standalone=False):
        return self.render("latex", standalone=standalone)

    def to_html(self, standalone=False):
        return self.render("html", standalone=standalone)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def _repr_markdown_(self):
        return self.to_markdown()

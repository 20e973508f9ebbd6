"""What every explanation (a derivation, a gradient, the vector form) can become."""

import json


class Document:
    """Text, Markdown, LaTeX, HTML and JSON through one ``render``; ``to_dict`` is the subclass's."""

    introduced = None  # in a handout: the problem that already set out this model and loss
    compact = False  # in a handout: the lesson's four steps of descent are left to the lesson

    def to_text(self, color=False):
        from derive.render.formats import render

        return render(self, "text", color=color)

    def to_markdown(self):
        from derive.render.formats import render

        return render(self, "markdown")

    def to_latex(self, standalone=False):
        from derive.render.formats import render

        return render(self, "latex", standalone=standalone)

    def to_html(self, standalone=False):
        from derive.render.formats import render

        return render(self, "html", standalone=standalone)

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def _repr_markdown_(self):
        return self.to_markdown()

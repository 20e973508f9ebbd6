"""What every explanation (a derivation, a gradient, the vector form) can become."""

import json


class Document:
    """Text, Markdown, LaTeX, HTML and JSON through one ``render``; ``to_dict`` is the subclass's."""

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

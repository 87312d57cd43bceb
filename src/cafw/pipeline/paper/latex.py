"""LaTeX building blocks with no knowledge of the study: escaping, \\label keys, the number
formats of the text and tables, the ``\\newcommand`` macros of numbers.tex, booktabs tables
with the best value per column in bold, and the ``\\clearpage`` that keeps LaTeX's float queue
short.  Everything the paper prints passes through here, so a format is changed in one place.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import pandas as pd

FLOATS_PER_PAGE = 6  # a \clearpage after this many floats keeps LaTeX's float queue short
DIGIT_WORDS = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven", "Eight", "Nine")
_ESCAPES = {"\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#",
            "_": "\\_", "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}",
            "^": "\\textasciicircum{}"}


def tex_escape(text) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in str(text))


def ref_key(text: str) -> str:
    """A \\label / \\ref key from an id: letters, digits, '-', '_' and '.' only."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text))


# -- numbers --------------------------------------------------------------------------------------

def fmt_num(x) -> str:
    """A setting as written in the config: 0.3, 10 ('--' when absent)."""
    if x is None or (isinstance(x, float) and math.isnan(x)) or x == "":
        return "--"
    return f"{float(x):g}"


def fmt_int(x) -> str:
    return "--" if x is None or pd.isna(x) else f"{int(round(float(x)))}"


def fmt_time(x) -> str:
    """A time (ms per step, s per epoch): whole from 100 up, else three significant digits."""
    if x is None or pd.isna(x):
        return "--"
    x = float(x)
    return f"{x:.0f}" if x >= 100 else f"{x:.3g}"


def fmt_ratio(x) -> str:
    """A ratio of two times, two decimals."""
    return "--" if x is None or pd.isna(x) else f"{float(x):.2f}"


def fmt_sci(x: float) -> str:
    """'0.0123', or '1.23\\times10^{-4}' outside [1e-3, 1e3), in \\ensuremath."""
    if x is None or pd.isna(x):
        return "--"
    if x == 0 or 1e-3 <= abs(x) < 1e3:
        return f"\\ensuremath{{{x:.3g}}}"
    mantissa, exponent = f"{x:.2e}".split("e")
    return f"\\ensuremath{{{mantissa}\\times10^{{{int(exponent)}}}}}"


# -- macros ---------------------------------------------------------------------------------------

def macro_name(*parts) -> str:
    """CamelCase letters only: ('filter-pruning', 'digits-cnn', 'sgd', 'Dense') ->
    'FilterPruningDigitsCnnSgdDense'; digits become words and '.' becomes 'Point'."""
    words = []
    for part in parts:
        for token in re.findall(r"[A-Za-z]+|[0-9]|\.", str(part)):
            if token.isdigit():
                words.append(DIGIT_WORDS[int(token)])
            elif token == ".":
                words.append("Point")
            else:
                words.append(token[0].upper() + token[1:])
    return "".join(words)


class Macros:
    """The macros of numbers.tex, in the order they were defined, each with its source."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str]] = []  # name, value, source
        self.names: set[str] = set()

    def define(self, parts: Iterable, value: str, source: str) -> str:
        base = macro_name(*parts)
        name, extra = base, 0
        while name in self.names:  # two ids that differ only in punctuation
            extra += 1
            name = base + "X" * extra
        self.names.add(name)
        self.entries.append((name, value, source))
        return "\\" + name

    def render(self) -> str:
        lines = ["% Macros: \\<Study><Setup><Method><Quantity> in CamelCase (digits spelled out, "
                 "'.' -> Point).", "% Accuracies are percent, mean \\pm std over seeds.", ""]
        for name, value, source in self.entries:
            lines += [f"% {source}", f"\\newcommand{{\\{name}}}{{{value}}}"]
        return "\n".join(lines) + "\n"


# -- floats ---------------------------------------------------------------------------------------

def booktabs(label: str, caption: str, header: list[str], body: list, align: str) -> str:
    """A table float; a row of ``body`` is a list of cells or a rule such as '\\midrule'."""
    lines = ["\\begin{table}[tbp]", "\\centering", "\\small", f"\\caption{{{caption}}}",
             f"\\label{{{label}}}", "\\begin{adjustbox}{max width=\\linewidth}",
             f"\\begin{{tabular}}{{{align}}}", "\\toprule", " & ".join(header) + " \\\\",
             "\\midrule"]
    for row in body:
        lines.append(row if isinstance(row, str) else " & ".join(row) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{adjustbox}", "\\end{table}", ""]
    return "\n".join(lines)


def bold_columns(columns: list[list]) -> list[list[str]]:
    """Cells 'mean ± std' per row from columns of Stats (or None), the best (highest shown
    mean) of each column in bold."""
    cells_by_column = []
    for stats in columns:
        shown = [s.shown for s in stats if s is not None]
        best = max(shown) if len(shown) > 1 else None
        cells_by_column.append([
            "--" if s is None else
            (f"$\\mathbf{{{s.tex()}}}$" if s.shown == best else f"${s.tex()}$")
            for s in stats])
    return [list(row) for row in zip(*cells_by_column)]


def paginate(parts: list[str]) -> str:
    out, count = [], 0
    for part in parts:
        out.append(part)
        if part.startswith("\\begin{"):
            count += 1
            if count % FLOATS_PER_PAGE == 0:
                out.append("\\clearpage\n")
    return "\n".join(out)

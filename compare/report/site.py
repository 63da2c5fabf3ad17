"""The study site: ``results/study/``, static HTML that opens offline from the file system.

One page per concept (``<concept>.html``) shows, from the registry and the last run only, so it can never
drift from the code: the equations (LaTeX rendered to SVG by matplotlib's mathtext, no network), the notes
on real semantic differences, the parity and speed of every variant/device/dtype, the loss curves, the
scratch and torch source side by side (``inspect.getsource`` + Pygments) and the concept's studies
(their markdown rendered to HTML). ``index.html`` holds the overview table and the navigation;
``speed.html`` the speed section that :mod:`compare.report.speed` renders from ``make bench``'s data.
Images are linked relative to the results folder (``../plots/x.png``); no file is fetched from anywhere else.
"""

from __future__ import annotations

import base64
import html
import inspect
import io
import math
import re
import textwrap
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import markdown
import matplotlib

matplotlib.use("Agg")
from matplotlib import mathtext  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from pygments import highlight  # noqa: E402
from pygments.formatters import HtmlFormatter  # noqa: E402
from pygments.lexers import PythonLexer  # noqa: E402

from compare.core.registry import Case, Excerpt  # noqa: E402
from compare.core.runner import GRADIENT_CHECK_BOUND, GRADIENT_CHECK_SUSPICIOUS  # noqa: E402
from compare.names import in_course_order  # noqa: E402
from compare.report.io import atomic_write_text  # noqa: E402
from compare.report.studies import StudyOutput  # noqa: E402
from compare.report.tables import cell, html_table  # noqa: E402

SITE_DIR = "study"
SPEED_PAGE = "speed.html"
MATH_FONT = FontProperties(size=15)
DIFF_COLUMNS = {"loss": "max_rel_diff_loss", "grad": "max_rel_diff_grad", "param": "max_rel_diff_params",
                "state": "max_rel_diff_state"}
#: The checkout: files are named relative to it (``scratch/deep_net.py``), never by a path of this machine.
REPO_ROOT = Path(__file__).resolve().parents[2]

# mathtext (matplotlib's TeX subset) lacks these; each rewrite keeps the meaning for a reader. A macro name ends
# at the first non-letter (`\rVert_F` is `\rVert` then `_F`), which `\b` would miss: `_` is a word character.
_MATH_REWRITES = [
    (r"\\[td]frac(?![A-Za-z])", r"\\frac"),
    (r"\\lVert(?![A-Za-z])|\\rVert(?![A-Za-z])", r"\\Vert"),
    (r"\\gets(?![A-Za-z])", r"\\leftarrow"),
    (r"\\operatorname\*", r"\\operatorname"),
    (r"\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![A-Za-z])", ""),
    (r"\\[bB]igg?[lrm]?(?![A-Za-z])", ""),
    (r"\\left(?![A-Za-z])\.?|\\right(?![A-Za-z])\.?", ""),
    (r"\\!", ""),
    (r"\\underbrace\{([^{}]*)\}_\{[^{}]*\}", r"\1"),
]
# Always applied: mathtext spaces ``:`` and ``=`` as two relations; ``\coloneq`` is the single symbol.
_ASSIGN = re.compile(r":=|\\coloneqq\b")
_METADATA = re.compile(rb"\s*<metadata>.*?</metadata>", re.DOTALL)
_ENVIRONMENT = re.compile(r"\\(?:begin|end)\{(?:aligned|align\*?|gathered|split|cases|array)\}(?:\{[^}]*\})?")


# ----------------------------------------------------------------------------------------------- equations
def equation_lines(latex: str) -> list[str]:
    """Display lines of ``latex``: environments stripped, split at ``\\\\``, ``&`` dropped, ``:=`` as one symbol."""
    body = _ENVIRONMENT.sub("", latex)
    lines = [_ASSIGN.sub(r"\\coloneq ", line.replace("&", " ")).strip() for line in re.split(r"\\\\", body)]
    return [line for line in lines if line]


def simplify_latex(latex: str) -> str:
    """``latex`` with the macros mathtext does not know replaced by ones it does (or dropped)."""
    for pattern, replacement in _MATH_REWRITES:
        latex = re.sub(pattern, replacement, latex)
    return latex


def latex_to_svg(latex: str) -> bytes | None:
    """One line of math as SVG (glyphs as paths: no fonts needed), or ``None`` if mathtext rejects it.

    The metadata block (creation date) is dropped so that an unchanged equation gives identical bytes.
    """
    for candidate in dict.fromkeys((latex, simplify_latex(latex))):
        buffer = io.BytesIO()
        try:
            # mathtext reports some bad input only as a warning (e.g. an empty box); treat it as a rejection.
            with warnings.catch_warnings(), matplotlib.rc_context({"savefig.transparent": True}):
                warnings.simplefilter("error")
                mathtext.math_to_image(f"${candidate}$", buffer, prop=MATH_FONT, format="svg")
        except (ValueError, RuntimeError, UserWarning, RuntimeWarning):
            continue
        return _METADATA.sub(b"", buffer.getvalue())
    return None


def equation_html(latex: str) -> str:
    """``<div class="equation">`` with one inline SVG image per line; a line mathtext cannot draw is shown
    as LaTeX source. The images are data URIs, so a page never refers to a stale equation file."""
    parts = []
    for line in equation_lines(latex):
        svg = latex_to_svg(line)
        if svg is None:
            parts.append(f'<code class="latex" title="shown as LaTeX: matplotlib mathtext cannot draw it">'
                         f"{html.escape(line)}</code>")
            continue
        uri = "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")
        parts.append(f'<img class="math" src="{uri}" alt="{html.escape(line, quote=True)}">')
    return '<div class="equation">' + "<br>".join(parts) + "</div>"


# ----------------------------------------------------------------------------------------------- source code
def _qualified_name(obj: object) -> str:
    module = getattr(obj, "__module__", None) or "?"
    return f"{module}.{getattr(obj, '__qualname__', type(obj).__name__)}"


def source_code(obj: object) -> tuple[str, str, str]:
    """``(qualified name, file relative to the repository, code)`` of a function, class or method, or of an
    :class:`~compare.core.registry.Excerpt` (its lines only, dedented; a line that is not in the code raises
    ``ValueError``)."""
    if isinstance(obj, Excerpt):
        name, where, code = source_code(obj.source)
        kept = [line for line in code.splitlines() if any(text in line for text in obj.lines)]
        missing = [text for text in obj.lines if not any(text in line for line in kept)]
        if missing:
            raise ValueError(f"excerpt of {name}: {missing!r} is not in its code")
        return f"{name} (excerpt)", where, textwrap.dedent("\n".join(kept)) + "\n"
    name = _qualified_name(obj)
    try:
        code = textwrap.dedent(inspect.getsource(obj))  # type: ignore[arg-type]
        # the file of the function itself, not of a decorator's wrapper (getsource unwraps too)
        path = Path(inspect.getsourcefile(inspect.unwrap(obj)) or "").resolve()  # type: ignore[arg-type]
        where = path.relative_to(REPO_ROOT).as_posix() if path.is_relative_to(REPO_ROOT) else path.name
    except (OSError, TypeError):  # built-ins, C extensions, objects made at run time
        code, where = f"# no Python source available for {name}\n", ""
    return name, where, code


def source_html(obj: object) -> str:
    """The highlighted source of a function, class or :class:`Excerpt`, headed by its qualified name and file."""
    name, where, code = source_code(obj)
    body = highlight(code, PythonLexer(), HtmlFormatter(cssclass="highlight"))
    caption = f"<code>{html.escape(name)}</code>" + (f' <span class="file">{html.escape(where)}</span>'
                                                       if where else "")
    return f'<figure class="source"><figcaption>{caption}</figcaption>{body}</figure>'


def featured_case(cases: Sequence[Case]) -> Case:
    """The variant a concept's page pairs stage by stage and its notebook runs: the one marked ``notebook``, else
    the first."""
    return next((case for case in cases if case.notebook), cases[0])


def _columns(scratch: Sequence[object], torch_side: Sequence[object]) -> str:
    """Scratch's code beside torch's (one column each, stacked on a narrow screen)."""
    return ('<div class="side-by-side"><div class="column"><h4>scratch (NumPy)</h4>'
            + "".join(map(source_html, scratch)) + '</div><div class="column"><h4>torch (PyTorch)</h4>'
            + "".join(map(source_html, torch_side)) + "</div></div>")


def code_section(cases: Sequence[Case]) -> list[str]:
    """Both implementations: the featured variant's code paired stage by stage (forward with the module's
    ``forward``, cost with the loss, backward with ``loss.backward()``, update with ``optimizer.step()``), then,
    folded, the rest of the concept's code that no stage shows. Without stages, the two sides' code side by side."""
    if not cases:
        return []
    case = featured_case(cases)
    scratch = unique_objects(obj for c in cases for obj in c.scratch_source)
    torch_side = unique_objects(obj for c in cases for obj in c.torch_source)
    if not case.stages:
        return ['<h2 id="code">The two implementations</h2>', _columns(scratch, torch_side)] if (
            scratch or torch_side) else []
    parts = ['<h2 id="code">The two implementations, stage by stage</h2>',
             f"<p>The variant <b>{html.escape(case.variant)}</b>, taken from the code itself: for each stage of a "
             "step, the scratch function(s) beside the torch code a user writes for it.</p>"]
    for stage in case.stages:
        parts += [f'<h3 class="stage">{html.escape(stage.name)}</h3>', _columns(stage.scratch, stage.torch)]
    shown = {id(obj) for stage in case.stages for obj in (*stage.scratch, *stage.torch)}
    rest_scratch = [obj for obj in scratch if id(obj) not in shown]
    rest_torch = [obj for obj in torch_side if id(obj) not in shown]
    if rest_scratch or rest_torch:
        parts.append("<details class=\"more-code\"><summary>More code of this concept (every variant's sources "
                     f"not shown above: {len(rest_scratch)} scratch, {len(rest_torch)} torch)</summary>"
                     + _columns(rest_scratch, rest_torch) + "</details>")
    return parts


def unique_objects(objects: Iterable[object]) -> list[object]:
    """``objects`` each once, in first-seen order, by identity (a method or an excerpt need not hash)."""
    seen: dict[int, object] = {}
    for obj in objects:
        seen.setdefault(id(obj), obj)
    return list(seen.values())


# ----------------------------------------------------------------------------------------------- markdown
_RELATIVE_LINK = re.compile(r'\b(src|href)="(?![a-z][a-z0-9+.-]*:|/|#|\.\./)')


def markdown_html(text: str) -> str:
    """A study's markdown as HTML; its links, relative to ``results/``, made relative to ``results/study/``."""
    rendered = markdown.markdown(text, extensions=["tables", "fenced_code", "sane_lists"])
    return _RELATIVE_LINK.sub(r'\1="../', rendered)


#: A table of more rows than this is folded (``<details>``) below the text that explains it.
FOLD_ROWS = 12
_TABLE = re.compile(r"<table\b.*?</table>", re.DOTALL)
_CELL = re.compile(r"(<td\b[^>]*>)(.*?)(</td>)", re.DOTALL)
_TEXT = re.compile(r"(>|^)([^<>]+)(?=<|$)")
# a number a browser could break at its sign or exponent (``-0.5``, ``1.2e-16``, ``3e+02``, ``25.9×``)
_BREAKABLE_NUMBER = re.compile(r"(?<![\w.])[-+\u2212]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?×?(?![\w.])")


def _number(text: str) -> str:
    """Every number in ``text`` (plain text, no tags) inside ``<span class="num">``, which never wraps."""
    return _BREAKABLE_NUMBER.sub(lambda m: f'<span class="num">{m.group(0)}</span>'
                                 if re.search(r"[-+\u2212eE×]", m.group(0)) else m.group(0), text)


def keep_numbers_whole(markup: str) -> str:
    """Table cells of ``markup`` with their signed or exponent numbers unbreakable (the rest of a cell wraps)."""

    def cell_text(match: re.Match[str]) -> str:
        inner = _TEXT.sub(lambda t: t.group(1) + _number(t.group(2)), match.group(2))
        return match.group(1) + inner + match.group(3)

    return _CELL.sub(cell_text, markup)


def fold(table: str, what: str) -> str:
    """``table`` as it is, or folded in ``<details>`` when it has more than :data:`FOLD_ROWS` body rows."""
    rows = len(re.findall(r"<tr\b", table.split("<tbody>", 1)[-1]))
    if rows <= FOLD_ROWS:
        return table
    return f'<details class="table"><summary>Show {what} ({rows} rows)</summary>{table}</details>'


def fold_long_tables(markup: str) -> str:
    """A study's HTML with each table of more than :data:`FOLD_ROWS` rows moved below the text, folded."""
    long_tables = [t for t in _TABLE.findall(markup) if fold(t, "") != t]
    for table in long_tables:
        markup = markup.replace(table, "", 1)
    return markup + "".join(fold(t, "the table") for t in long_tables)


# ----------------------------------------------------------------------------------------------- tables
def _fmt(value: object, spec: str = ".2e") -> str:
    """A cell of the site's tables: a NaN difference is shown as ``nan`` (a diverged run), not as a gap."""
    return cell(value, spec, missing="&mdash;", nan="nan", escape=html.escape)


def _worst(values: Iterable[object]) -> float | None:
    """The largest number (NaN if any is NaN: a diverged run must not look good); None when there is none."""
    numbers = [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if any(math.isnan(n) for n in numbers):
        return math.nan
    return max(numbers) if numbers else None


def _badge(passed: bool | None) -> str:
    if passed is None:
        return '<span class="badge none">not run</span>'
    return '<span class="badge pass">pass</span>' if passed else '<span class="badge fail">FAIL</span>'


def _groups(records: Sequence[dict]) -> dict[tuple[str, str, str], list[dict]]:
    """Records by (variant, device, dtype), float64 before float32, CPU before CUDA."""
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for record in records:
        groups[(record["variant"], record["device"], record["dtype"])].append(record)
    order = {"cpu": 0, "cuda": 1, "float64": 0, "float32": 1}
    return dict(sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 2), order.get(kv[0][2], 2))))


def parity_table(records: Sequence[dict]) -> str:
    """Worst relative difference over seeds per variant/device/dtype, with the tolerance and the verdict."""
    rows = []
    for (variant, device, dtype), group in _groups(records).items():
        diffs = [_fmt(_worst(r[column] for r in group)) for column in DIFF_COLUMNS.values()]
        seeds = ", ".join(str(r["seed"]) for r in group)
        rows.append([html.escape(variant), device, dtype, seeds, _steps(group), *diffs,
                     _fmt(group[0].get("tolerance")), _badge(all(r["passed"] for r in group))])
    problems = sorted({f"{r['variant']} {r['device']} {r['dtype']} seed {r['seed']}: {p}"
                       for r in records for p in r.get("problems") or ()})
    crossings = sorted(f"{r['variant']} {r['device']} {r['dtype']} seed {r['seed']}: {c}"
                       for r in records for c in r.get("kink_crossings") or ())
    header = ["variant", "device", "dtype", "seeds", "steps", *(f"max rel diff {k}" for k in DIFF_COLUMNS),
              "tolerance", "verdict"]
    lists = "".join(f'<ul class="{css}">' + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>"
                    for css, items in (("problems", problems), ("kinks", crossings)) if items)
    return html_table(header, rows, "numbers") + lists


def parity_sentence(records: Sequence[dict]) -> str:
    """One sentence above the parity table: how many runs, how many passed, the worst difference per dtype."""
    passed = sum(bool(r["passed"]) for r in records)
    worst = []
    for dtype in ("float64", "float32"):
        value = _worst(r[c] for r in records if r["dtype"] == dtype for c in DIFF_COLUMNS.values())
        if value is not None:
            worst.append(f"{dtype} {_number(_fmt(value))}")
    return (f"{len(records)} runs (variant &times; device &times; dtype &times; seed), {passed} passed; worst "
            f"relative difference {', '.join(worst) or '&mdash;'}.")


def gradient_check_section(cases: Sequence[Case], records: Sequence[dict]) -> list[str]:
    """The course's gradient check of every variant that declares one: the scratch backward against two-sided
    differences of its own cost (float64), worst over the seeds checked (a report checks its first seed), with
    the course's thresholds."""
    checked = [case for case in cases if case.gradient_check is not None]
    if not checked:
        return []
    values: dict[str, list[float]] = defaultdict(list)
    for record in records:
        if record.get("gradient_check") is not None:
            values[record["variant"]].append(float(record["gradient_check"]))
    rows = []
    for case in checked:
        found = values.get(case.variant, [])
        worst = _worst(found)
        verdict = _badge(None) if worst is None else _badge(worst <= GRADIENT_CHECK_BOUND)
        rows.append([html.escape(case.variant), str(len(found)) if found else "&mdash;", _fmt(worst), verdict])
    intro = ("<p>The scratch gradients against centred differences of the scratch cost, "
             "<code>||grad - gradapprox|| / (||grad|| + ||gradapprox||)</code> in float64, worst over the seeds "
             "checked: a report checks its first seed, while every seed's parity run compares each gradient "
             "with autograd's at every step "
             f"(the course: below {GRADIENT_CHECK_SUSPICIOUS:.0e} is right, above {GRADIENT_CHECK_BOUND:.0e} is a bug)."
             + ("" if values else " It did not run in the last report (a quick report skips it).") + "</p>")
    return ['<h2 id="gradient-check">Gradient check</h2>', intro,
            fold(html_table(["variant", "seeds", "relative difference", "verdict"], rows, "numbers"),
                 "the gradient check table")]


def _steps(group: Sequence[dict]) -> str:
    """``200``, or ``199-200 of 200`` when kink crossings (or a divergence) left steps uncompared."""
    steps = group[0].get("steps", "")
    compared = [r.get("steps_compared", steps) for r in group]
    low = min(compared)
    return str(steps) if low == steps else f"{low}-{max(compared)} of {steps}"


def speed_table(records: Sequence[dict]) -> str:
    """Seconds per training step of each side (the timed seed), and their ratio."""
    rows = []
    for (variant, device, dtype), group in _groups(records).items():
        scratch_seconds = _worst(r.get("scratch_seconds_per_step") for r in group)
        torch_seconds = _worst(r.get("torch_seconds_per_step") for r in group)
        ratio = torch_seconds / scratch_seconds if scratch_seconds and torch_seconds else None
        rows.append([html.escape(variant), device, dtype, _fmt(scratch_seconds, ".3e"), _fmt(torch_seconds, ".3e"),
                     _fmt(ratio, ".2f")])
    return html_table(["variant", "device", "dtype", "scratch s/step", "torch s/step", "torch / scratch"], rows,
                      "numbers")


# ----------------------------------------------------------------------------------------------- pages
def _page(title: str, nav: str, body: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} &middot; dlparity study</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="style.css">
</head>
<body>
<nav class="sidebar">{nav}</nav>
<main>
{keep_numbers_whole(body)}
</main>
</body>
</html>
"""


def _nav(concepts: Sequence[str], current: str | None, status: dict[str, bool | None], speed: bool,
         guides: Sequence[Guide] = ()) -> str:
    """The sidebar: overview, every concept with a status dot, the speed page when there is one, the guides."""

    def link(href: str, text: str, here: bool, css: str = "") -> str:
        current_page = ' aria-current="page"' if here else ""
        return f'<a class="{css}" href="{href}"{current_page}>{text}</a>'

    marks = {True: "ok", False: "fail", None: "none"}
    items = [f"<li>{link(page_name(c), _title(c), c == current, marks[status[c]])}</li>" for c in concepts]
    extras = [(SPEED_PAGE, "speed")] if speed else []
    extras += [(guide.page, guide.title) for guide in guides]
    extra = ('<ul class="extra">' + "".join(f"<li>{link(page, text, current == page)}</li>" for page, text in extras)
             + "</ul>") if extras else ""
    return f'{link("index.html", "dlparity study", current is None, "home")}<ul>{"".join(items)}</ul>{extra}'


@dataclass(frozen=True)
class Guide:
    """A page of the site that is no concept: ``page`` (file name), its ``title`` in the sidebar, its markdown
    (e.g. docs/check.md, so the site and the docs are one text)."""

    page: str
    title: str
    markdown: str


def guides_from_docs(docs: Path = REPO_ROOT / "docs") -> list[Guide]:
    """The learner's guides the site carries: "check your code" (docs/check.md), when the checkout has it."""
    path = docs / "check.md"
    return [Guide("check.html", "check your code", path.read_text(encoding="utf-8"))] if path.is_file() else []


def page_name(concept: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", concept) + ".html"


def _title(concept: str) -> str:
    return html.escape(concept.replace("_", " "))


def by_variants(cases: Sequence[Case], items: Callable[[Case], Iterable[str]]) -> dict[str, list[str]]:
    """Each distinct item (an equation, a note) of the concept's cases, in first-seen order, with its variants."""
    variants: dict[str, list[str]] = {}
    for case in cases:
        for item in items(case):
            variants.setdefault(item, []).append(case.variant)
    return variants


def variants_label(variants: Sequence[str], of: int) -> str:
    """Which variants an equation or a note belongs to; nothing when it belongs to all ``of`` of them."""
    if len(variants) == of:
        return ""
    names = ", ".join(f"<b>{html.escape(v)}</b>" for v in variants)
    return f'<p class="for">{"variant" if len(variants) == 1 else "variants"} {names}:</p>'


def concept_body(concept: str, cases: Sequence[Case], records: Sequence[dict],
                 studies: Sequence[tuple[str, StudyOutput]], loss_plot: str | None,
                 neighbours: tuple[str | None, str | None], notebook: str | None = None) -> str:
    """The sections of one concept page, in reading order: what, math, differences, proof, code, studies.

    ``notebook`` is the concept's notebook, relative to the results folder (``notebooks/x.ipynb``), if any."""
    status = all(r["passed"] for r in records) if records else None
    parts = [f'<section class="concept" id="{html.escape(concept)}">',
             f"<h1>{_title(concept)} {_badge(status)}</h1>"]
    if notebook:
        parts.append(f'<p class="notebook">Run it yourself: the Jupyter notebook <a href="../{html.escape(notebook)}">'
                     f"{html.escape(notebook)}</a> (math, both codes stage by stage, a live parity run).</p>")
    if cases:
        variants = "".join(f"<li><b>{html.escape(c.variant)}</b>: {html.escape(c.summary)}</li>" for c in cases)
        parts.append(f'<ul class="variants">{variants}</ul>')
    equations = by_variants(cases, lambda case: case.equations)
    if equations:
        parts.append('<h2 id="equations">Equations</h2>')
        parts += [variants_label(variants, len(cases)) + equation_html(eq) for eq, variants in equations.items()]
    notes = by_variants(cases, lambda case: (case.notes.strip(),) if case.notes.strip() else ())
    if notes:
        paragraphs = "".join(variants_label(variants, len(cases)) + "".join(
            f"<p>{html.escape(p)}</p>" for p in re.split(r"\n\s*\n", note)) for note, variants in notes.items())
        parts += ['<h2 id="notes">Course vs torch: real differences</h2>', f'<div class="notes">{paragraphs}</div>']
    parts.append('<h2 id="parity">Parity of the last run</h2>')
    if records:
        parts += [f"<p>{parity_sentence(records)}</p>", fold(parity_table(records), "the parity table")]
    else:
        parts.append("<p>This concept was not part of the last run.</p>")
    parts += gradient_check_section(cases, records)
    if records:
        parts += ['<h2 id="speed">Speed</h2>', fold(speed_table(records), "the speed table")]
    if loss_plot:
        parts += ['<h2 id="loss">Loss curves</h2>',
                  f'<a href="../{loss_plot}" title="open the figure at full size"><img class="plot" '
                  f'src="../{loss_plot}" alt="{_title(concept)} loss curves, scratch vs torch"></a>']
    parts += code_section(cases)
    for title, output in studies:
        unlinked = [image for image in output.images if image not in output.markdown]
        figures = "".join(f'<img class="plot" src="../{html.escape(image)}" alt="{html.escape(image)}">'
                          for image in unlinked)
        parts += [f'<section class="study"><h2>{html.escape(title)}</h2>',
                  fold_long_tables(markdown_html(output.markdown)), figures, "</section>"]
    previous, following = neighbours
    links = []
    if previous:
        links.append(f'<a rel="prev" href="{page_name(previous)}">&larr; {_title(previous)}</a>')
    links.append('<a href="index.html">overview</a>')
    if following:
        links.append(f'<a rel="next" href="{page_name(following)}">{_title(following)} &rarr;</a>')
    parts += [f'<footer class="pager">{" &middot; ".join(links)}</footer>', "</section>"]
    return "\n".join(parts)


def index_body(concepts: Sequence[str], by_concept: dict[str, list[dict]], cases: dict[str, list[Case]],
               study_count: dict[str, int], speed: bool) -> str:
    """The overview: one row per concept with its verdict and worst difference per dtype."""
    rows = []
    for concept in concepts:
        records = by_concept.get(concept, [])
        worst = {dtype: _worst(r[c] for r in records if r["dtype"] == dtype for c in DIFF_COLUMNS.values())
                 for dtype in ("float64", "float32")}
        devices = ", ".join(sorted({r["device"] for r in records})) or "&mdash;"
        variants = ", ".join(html.escape(c.variant) for c in cases.get(concept, [])) or "&mdash;"
        rows.append([f'<a href="{page_name(concept)}">{_title(concept)}</a>', variants, devices,
                     _fmt(worst["float64"]), _fmt(worst["float32"]), str(study_count.get(concept, 0)),
                     _badge(all(r["passed"] for r in records) if records else None)])
    parts = [
        "<h1>dlparity: every concept built twice</h1>",
        "<p>Each concept is implemented from scratch in NumPy, in the course's layout, and in idiomatic "
        "PyTorch; both are trained from the same data and initial weights and compared at every step. "
        "Each page shows the math, both implementations side by side (taken from the code itself), the "
        "measured agreement of the last <code>make report</code> and the concept's studies. Differences are "
        "<code>max|scratch - torch| / max|torch|</code> over the whole trajectory, worst array, worst seed.</p>",
        '<h2 id="overview">Overview</h2>',
        html_table(["concept", "variants", "devices", "worst rel diff float64", "worst rel diff float32",
                    "studies", "status"], rows, "numbers overview"),
    ]
    if speed:
        parts.append(f'<p>Speed: scratch vs torch (CPU and CUDA) from <code>make bench</code> on the '
                     f'<a href="{SPEED_PAGE}">speed page</a>.</p>')
    return "\n".join(parts)


def write_site(out_dir: Path, records: Sequence[dict], studies: Sequence[tuple[str, str, StudyOutput]],
               cases: Sequence[Case], *, published: Path | None = None, speed: str = "", banner: str = "",
               notebooks: dict[str, str] | None = None, guides: Sequence[Guide] = ()) -> Path:
    """Write ``out_dir/study/`` (``index.html``, one page per concept, ``style.css``); return the index path.

    ``records`` are :meth:`CaseRun.record` dicts, ``studies`` ``(concept, title, output)`` triples, ``speed``
    the speed section as markdown (:func:`compare.report.speed.speed_markdown`, "" without a bench run).
    Plots are looked up under ``out_dir/plots``; when ``out_dir`` is a staging folder, ``published`` is the
    folder it will be moved into, whose plots (``make bench``'s among them) are shown as well. ``banner``
    (markdown, e.g. the quick report's label) heads every page. ``notebooks`` maps a concept to its notebook,
    relative to ``out_dir`` (:func:`compare.report.notebooks.write_notebooks`); each concept page links to it.
    ``guides`` are pages beside the concepts (:class:`Guide`), linked from every sidebar.
    """
    out_dir = Path(out_dir)
    site = out_dir / SITE_DIR
    by_concept: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_concept[record["concept"]].append(record)
    cases_by_concept: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        cases_by_concept[case.concept].append(case)
    studies_by_concept: dict[str, list[tuple[str, StudyOutput]]] = defaultdict(list)
    for concept, title, output in studies:
        studies_by_concept[concept].append((title, output))
    concepts = in_course_order(set(by_concept) | set(cases_by_concept) | set(studies_by_concept))
    status = {c: (all(r["passed"] for r in by_concept[c]) if by_concept.get(c) else None) for c in concepts}

    folders = [out_dir] + ([Path(published)] if published else [])

    def plots(pattern: str) -> list[str]:
        return sorted({f"plots/{p.name}" for folder in folders for p in (folder / "plots").glob(pattern)})

    speed = speed_page(speed, plots("speed_*.png"))
    top = f'<div class="banner">{markdown_html(banner)}</div>\n' if banner else ""
    for index, concept in enumerate(concepts):
        neighbours = (concepts[index - 1] if index else None,
                      concepts[index + 1] if index + 1 < len(concepts) else None)
        loss_plot = next(iter(plots(f"{concept}_loss.png")), None)
        body = top + concept_body(concept, cases_by_concept[concept], by_concept.get(concept, []),
                                  studies_by_concept[concept], loss_plot, neighbours,
                                  (notebooks or {}).get(concept))
        atomic_write_text(site / page_name(concept),
                          _page(concept.replace("_", " "), _nav(concepts, concept, status, bool(speed), guides), body))
    if speed:
        atomic_write_text(site / SPEED_PAGE, _page("speed", _nav(concepts, SPEED_PAGE, status, True, guides), speed))
    study_count = {c: len(s) for c, s in studies_by_concept.items()}
    body = top + index_body(concepts, by_concept, cases_by_concept, study_count, bool(speed))
    atomic_write_text(site / "index.html", _page("overview", _nav(concepts, None, status, bool(speed), guides), body))
    for guide in guides:
        atomic_write_text(site / guide.page, _page(guide.title, _nav(concepts, guide.page, status, bool(speed), guides),
                                                   top + markdown_html(guide.markdown)))
    atomic_write_text(site / "style.css", STYLE + HtmlFormatter(style="default").get_style_defs(".highlight"))
    return site / "index.html"


def speed_page(speed_markdown: str, speed_plots: Sequence[str]) -> str:
    """The speed section rendered, then any ``speed_*.png`` it does not link; "" when there is neither."""
    if not speed_markdown.strip() and not speed_plots:
        return ""
    parts = [markdown_html(speed_markdown)] if speed_markdown.strip() else ["<h1>Speed</h1>"]
    parts += [f'<img class="plot" src="../{p}" alt="{html.escape(Path(p).stem)}">' for p in speed_plots
              if p not in speed_markdown]
    return "\n".join(parts)


STYLE = """\
:root { --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --accent: #2f5fb3; --pass: #1d7a3a; --fail: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink);
       display: flex; min-height: 100vh; }
.sidebar { width: 14rem; flex: none; padding: 1rem; background: #f4f6fa; border-right: 1px solid var(--line);
           position: sticky; top: 0; height: 100vh; overflow-y: auto; }
.sidebar ul { list-style: none; padding: 0; margin: 0.8rem 0 0; }
.sidebar ul.extra { border-top: 1px solid var(--line); padding-top: 0.6rem; }
.sidebar ul.extra a::before { content: none; }
.sidebar li a { display: block; padding: 0.25rem 0.4rem; border-radius: 4px; color: var(--ink);
                text-decoration: none; }
.sidebar li a::before { content: "\\25CF"; margin-right: 0.45rem; font-size: 0.7em; vertical-align: 0.15em; }
.sidebar li a.ok::before { color: var(--pass); }
.sidebar li a.fail::before { color: var(--fail); }
.sidebar li a.none::before { color: var(--muted); }
.sidebar a[aria-current] { background: #dfe6f3; font-weight: 600; }
.sidebar .home { font-weight: 700; color: var(--accent); text-decoration: none; font-size: 1.05rem; }
main { flex: 1; min-width: 0; padding: 1.2rem 2rem 3rem; max-width: 110rem; }
.banner { border-left: 4px solid var(--fail); background: #fff4e5; padding: 0.2rem 1rem; margin-bottom: 1rem; }
h1 { margin-top: 0.2rem; }
h2 { border-bottom: 1px solid var(--line); padding-bottom: 0.2rem; margin-top: 2rem; }
a { color: var(--accent); }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid var(--line); padding: 0.3rem 0.6rem; text-align: left; }
th { background: #f4f6fa; }
table.numbers td { font-variant-numeric: tabular-nums; }
.badge { display: inline-block; padding: 0.05rem 0.5rem; border-radius: 999px; font-size: 0.8rem;
         font-weight: 600; vertical-align: middle; color: #fff; }
.badge.pass { background: var(--pass); }
.badge.fail { background: var(--fail); }
.badge.none { background: var(--muted); }
.equation { margin: 0.6rem 0; padding: 0.5rem 1rem; background: #fbfcfe; border-left: 3px solid var(--accent); }
.equation img.math { max-width: 100%; vertical-align: middle; }
code.latex { color: var(--muted); }
.notes p { max-width: 60rem; }
img.plot { max-width: 100%; height: auto; display: block; margin: 0.6rem 0; }
.study img { max-width: 100%; height: auto; }
.side-by-side { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.side-by-side .column { min-width: 0; }
figure.source { margin: 0 0 1rem; border: 1px solid var(--line); border-radius: 6px; overflow: hidden; }
figure.source figcaption { padding: 0.3rem 0.6rem; background: #f4f6fa; border-bottom: 1px solid var(--line);
                           font-size: 0.85rem; display: flex; flex-wrap: wrap; justify-content: space-between;
                           column-gap: 0.8rem; overflow-wrap: anywhere; }
figure.source .file { color: var(--muted); }
.highlight { margin: 0; }
.highlight pre { margin: 0; padding: 0.6rem; font-size: 0.8rem; line-height: 1.4;
                 white-space: pre-wrap; overflow-wrap: anywhere; }
.side-by-side h4 { margin: 0.2rem 0 0.4rem; color: var(--muted); font-size: 0.85rem; }
h3.stage { margin: 1.4rem 0 0.4rem; text-transform: capitalize; }
span.num { white-space: nowrap; }
p.for { margin: 0.8rem 0 0.1rem; font-size: 0.85rem; color: var(--muted); }
main table { display: block; max-width: 100%; overflow-x: auto; }
details { margin: 0.6rem 0; }
details > summary { cursor: pointer; color: var(--accent); }
.problems { color: var(--fail); }
.pager { margin-top: 2.5rem; padding-top: 0.8rem; border-top: 1px solid var(--line); }
@media (max-width: 60rem) { .side-by-side { grid-template-columns: 1fr; } body { display: block; }
  .sidebar { position: static; width: auto; height: auto; } }
"""

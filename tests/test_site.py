"""The study site: generated from a real (small) report and checked in headless Chromium as a reader would.

The browser is driven over the Chrome DevTools protocol through ``--remote-debugging-pipe`` (file
descriptors 3 and 4, NUL-terminated JSON), so no websocket library and no network are needed. The browser
tests skip cleanly when ``chromium`` is not installed.
"""

from __future__ import annotations

import base64
import fcntl
import html
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import compare.report.studies as studies
from compare.core.registry import select as select_cases
from compare.names import COURSE_ORDER
from compare.perf.bench import BenchResult, bench_frame
from compare.report.build import make_report
from compare.report.io import atomic_write_json
from compare.report.site import (
    FOLD_ROWS,
    REPO_ROOT,
    Guide,
    equation_html,
    equation_lines,
    fold,
    fold_long_tables,
    guides_from_docs,
    keep_numbers_whole,
    latex_to_svg,
    markdown_html,
    simplify_latex,
    source_html,
    speed_page,
    write_site,
)
from compare.report.speed import SpeedReport
from compare.report.studies import Study, StudyContext, StudyOutput

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CONCEPT = "logistic_regression"
#: How long a DevTools reply may take before the browser counts as hung. Replies are waited for as they come
#: (readiness, not a fixed wait); the bound only ends a hang, so it is generous for a loaded machine.
HANG_GUARD = 600.0


# ----------------------------------------------------------------------------------------------- unit tests
def test_supported_equation_is_drawn_as_deterministic_svg() -> None:
    latex = r"dW^{[l]} = \frac{1}{m} dZ^{[l]} A^{[l-1]T}"
    svg = latex_to_svg(latex)
    assert svg is not None and b"<svg" in svg and b"<metadata>" not in svg
    assert latex_to_svg(latex) == svg


def test_unsupported_macros_are_rewritten_before_giving_up() -> None:
    # \tfrac, \lVert and \bigl are not in mathtext; their rewrites are.
    assert latex_to_svg(r"\tfrac{1}{2}\lVert w \rVert^2 \bigl(x\bigr)") is not None
    # A macro ends at the first non-letter, so a subscript right after it does not hide it.
    assert simplify_latex(r"\lVert W\rVert_F^2") == r"\Vert W\Vert_F^2"


def test_aligned_environment_becomes_one_image_per_line() -> None:
    latex = r"\begin{aligned} v &= \beta v + (1-\beta) dW \\ W &= W - \alpha v \end{aligned}"
    assert equation_lines(latex) == [r"v  = \beta v + (1-\beta) dW", r"W  = W - \alpha v"]
    page = equation_html(latex)
    assert page.count('<img class="math" src="data:image/svg+xml;base64,') == 2


def test_undrawable_equation_falls_back_to_readable_latex() -> None:
    page = equation_html(r"\frac{1}{2} \undefinedmacro{x} < y")
    assert '<code class="latex"' in page and r"\undefinedmacro{x} &lt; y" in page and "<img" not in page


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet="\\{}^_&$%#<>-:=ab12 ()[]|.,", max_size=20))
def test_any_latex_gives_html_and_never_raises(latex: str) -> None:
    page = equation_html(latex)
    assert page.startswith('<div class="equation">') and page.endswith("</div>")


def test_markdown_links_are_made_relative_to_the_study_folder() -> None:
    rendered = markdown_html("# T\n\n![a](plots/a.png) [web](https://x.org) [up](../x) [here](#t)\n\n"
                             "| a | b |\n|---|---|\n| 1 | 2 |\n\n```\ncode\n```\n")
    assert '<img alt="a" src="../plots/a.png"' in rendered
    assert 'href="https://x.org"' in rendered and 'href="../x"' in rendered and 'href="#t"' in rendered
    assert "<table>" in rendered and "<pre><code>code" in rendered


def test_source_without_python_code_is_named_not_fatal() -> None:
    assert "no Python source available for builtins.len" in source_html(len)
    assert '<span class="nf">write_site</span>' in source_html(write_site)


def test_site_handles_concepts_without_records_cases_or_studies(tmp_path: Path) -> None:
    (case,) = [c for c in select_cases([CONCEPT]) if c.variant == "vectorized"]
    record = {"concept": "other", "variant": "v", "device": "cpu", "dtype": "float64", "seed": 0, "steps": 3,
              "passed": False, "tolerance": 1e-10, "max_rel_diff_loss": float("nan"), "max_rel_diff_grad": 0.5,
              "max_rel_diff_params": None, "max_rel_diff_state": None, "problems": ["scratch diverged at step 2"],
              "scratch_seconds_per_step": None, "torch_seconds_per_step": None}
    study = StudyOutput("text", ("plots/unlinked.png",))
    index = write_site(tmp_path, [record], [("third", "A study", study)], [case])
    pages = {p.name: p.read_text() for p in index.parent.glob("*.html")}
    assert set(pages) == {"index.html", f"{CONCEPT}.html", "other.html", "third.html"}
    assert "scratch diverged at step 2" in pages["other.html"] and "FAIL" in pages["index.html"]
    assert "<td>nan</td>" in pages["index.html"]  # a NaN difference is shown, not hidden behind the 0.5
    assert 'src="../plots/unlinked.png"' in pages["third.html"]
    assert "not part of the last run" in pages[f"{CONCEPT}.html"]


def test_concepts_follow_the_course_order_in_the_overview_the_sidebar_and_prev_next(tmp_path: Path) -> None:
    """Not alphabetical: logistic regression first, autodiff after it, deep_net before rnn; an unlisted one last."""
    names = ["rnn", "zz_unlisted", "deep_net", "autodiff", "logistic_regression", "batchnorm", "softmax"]
    index = write_site(tmp_path, [], [(name, "A study", StudyOutput("text")) for name in names], [])
    expected = [c for c in COURSE_ORDER if c in names] + ["zz_unlisted"]
    assert expected[:4] == ["logistic_regression", "autodiff", "deep_net", "batchnorm"]
    overview = re.findall(r'<td><a href="([a-z_]+)\.html">', index.read_text())
    assert overview == expected
    sidebar = re.findall(r'<li><a class="none" href="([a-z_]+)\.html"', index.read_text())
    assert sidebar == expected
    for previous, current, following in zip([None, *expected[:-1]], expected, [*expected[1:], None], strict=True):
        page = (index.parent / f"{current}.html").read_text()
        assert re.findall(r'rel="prev" href="([a-z_]+)\.html"', page) == ([previous] if previous else [])
        assert re.findall(r'rel="next" href="([a-z_]+)\.html"', page) == ([following] if following else [])


def _concept_page(tmp_path: Path, records: list[dict] | None = None, concept: str = CONCEPT) -> str:
    index = write_site(tmp_path, records or [], [], select_cases([concept]))
    return (index.parent / f"{concept}.html").read_text()


def test_code_is_paired_by_stage_with_the_torch_code_a_user_writes(tmp_path: Path) -> None:
    page = _concept_page(tmp_path)
    stages = re.findall(r'<h3 class="stage">([^<]+)</h3>', page)
    assert stages == ["forward", "cost", "backward", "update"]
    blocks = dict(zip(stages, re.split(r'<h3 class="stage">', page)[1:], strict=True))
    torch_backward = blocks["backward"].split("torch (PyTorch)", 1)[1]
    assert "loss</span><span class=\"o\">.</span><span class=\"n\">backward" in torch_backward
    assert "optimizer</span><span class=\"o\">.</span><span class=\"n\">step" in blocks["update"]
    files = set(re.findall(r'<span class="file">([^<]+)</span>', page))
    assert files and all(f.startswith(("scratch/", "torch_ref/", "compare/")) for f in files), files
    assert "<details class=\"more-code\">" in page  # the loop variant's code, folded below the stages


def _record(variant: str, seed: int, check: float | None, passed: bool = True) -> dict:
    return {"concept": CONCEPT, "variant": variant, "device": "cpu", "dtype": "float64", "seed": seed, "steps": 3,
            "passed": passed, "tolerance": 1e-10, "max_rel_diff_loss": 1.5e-16, "max_rel_diff_grad": 2e-15,
            "max_rel_diff_params": None, "max_rel_diff_state": None, "gradient_check": check,
            "scratch_seconds_per_step": None, "torch_seconds_per_step": None}


def test_equations_and_notes_name_the_variants_they_belong_to(tmp_path: Path) -> None:
    """regularization's L1 equations are labelled l1_penalty's; logistic regression's, shared by both variants, bare."""
    cases = select_cases(["regularization"])
    page = _concept_page(tmp_path, concept="regularization")
    equations = page.split('<h2 id="equations">', 1)[1].split("<h2", 1)[0]
    labels = re.findall(r'<p class="for">variants? (.*?):</p><div class="equation">', equations)
    assert len(labels) == equations.count('<div class="equation">')  # every equation labelled: none is shared
    named = {v for label in labels for v in re.findall(r"<b>(\w+)</b>", label)}
    assert named == {c.variant for c in cases if c.equations}
    l1 = next(c for c in cases if c.variant == "l1_penalty")
    assert equations.index("<b>l1_penalty</b>") < equations.index(html.escape(equation_lines(l1.equations[0])[0],
                                                                              quote=True))
    assert '<p class="for">' not in _concept_page(tmp_path / "lr").split('<h2 id="parity">', 1)[0]


def test_every_declared_gradient_check_is_a_table_on_its_page(tmp_path: Path) -> None:
    records = [_record("vectorized", 0, 3e-10), _record("vectorized", 1, 4e-9), _record("loop", 0, 2e-4, False)]
    page = _concept_page(tmp_path, records)
    section = page.split('<h2 id="gradient-check">', 1)[1].split("<h2", 1)[0]
    rows = re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td><td>([^<]*(?:<span[^>]*>[^<]*</span>)?)</td>", section)
    assert [(v, n) for v, n, _ in rows] == [("loop", "1"), ("vectorized", "2")]
    assert "4.00e-09" in rows[1][2] and "2.00e-04" in rows[0][2]  # worst over the seeds, the bug flagged:
    assert section.count('class="badge fail"') == 1 and section.count('class="badge pass"') == 1
    not_run = _concept_page(tmp_path / "quick", [_record("vectorized", 0, None)])
    assert "did not run in the last report" in not_run.split('id="gradient-check"', 1)[1].split("<h2", 1)[0]
    assert 'id="gradient-check"' not in _concept_page(tmp_path / "none", [], "normalization")  # declares none


def test_long_tables_fold_below_the_text_and_short_ones_stay() -> None:
    def table(rows: int) -> str:
        return "<table><thead><tr><th>a</th></tr></thead><tbody>" + "<tr><td>1</td></tr>" * rows + "</tbody></table>"

    assert fold(table(FOLD_ROWS), "x") == table(FOLD_ROWS)
    folded = fold(table(FOLD_ROWS + 1), "x")
    assert folded.startswith("<details") and f"({FOLD_ROWS + 1} rows)" in folded
    study = fold_long_tables(f"<p>before</p>{table(FOLD_ROWS + 5)}<p>after</p>{table(2)}")
    assert study.index("<p>after</p>") < study.index("<details") and study.count("<details") == 1
    assert study.index(table(2)) < study.index("<details")


def test_numbers_in_table_cells_are_never_broken_at_their_sign_or_exponent() -> None:
    cells = keep_numbers_whole('<p>-1 e-3</p><table><tr><td>1.2e-16 / -0.5 of 200, <b>25.9×</b></td></tr></table>')
    assert '<td><span class="num">1.2e-16</span> / <span class="num">-0.5</span> of 200, ' in cells
    assert '<b><span class="num">25.9×</span></b>' in cells
    assert cells.startswith("<p>-1 e-3</p>")  # only table cells


def test_a_guide_page_is_rendered_and_linked_from_every_sidebar(tmp_path: Path) -> None:
    (case,) = [c for c in select_cases([CONCEPT]) if c.variant == "vectorized"]
    guide = Guide("guide.html", "a guide", "# A guide\n\nSome *text*.")
    index = write_site(tmp_path, [], [], [case], guides=[guide])
    pages = {p.name: p.read_text() for p in index.parent.glob("*.html")}
    assert "<h1>A guide</h1>" in pages["guide.html"] and "<em>text</em>" in pages["guide.html"]
    assert all('href="guide.html"' in page for page in pages.values())
    assert 'href="guide.html" aria-current="page"' in pages["guide.html"]


def test_the_site_carries_the_checkers_guide_from_docs() -> None:
    (guide,) = guides_from_docs()
    assert guide.page == "check.html" and guide.markdown.startswith("# Check your own implementation")


# ----------------------------------------------------------------------------------------------- browser
class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (fd 3 in, fd 4 out)."""

    def __init__(self, profile: Path, width: int = 1400, height: int = 1000):
        to_chrome, self._write = os.pipe()
        self._read, from_chrome = os.pipe()
        # Chromium expects the pipe on fds 3 and 4. A tiny exec wrapper moves them there: preexec_fn is unsafe
        # once torch has started threads. Duplicating to fds >= 10 first means the moves cannot collide.
        ends = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_chrome, from_chrome)]
        for fd in (to_chrome, from_chrome):
            os.close(fd)
        wrapper = ("import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
                   "os.close(int(sys.argv[1])); os.close(int(sys.argv[2])); os.execv(sys.argv[3], sys.argv[3:])")
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--remote-debugging-pipe", f"--user-data-dir={profile}",
                 f"--window-size={width},{height}", "about:blank"]
        self.process = subprocess.Popen([sys.executable, "-c", wrapper, *map(str, ends), CHROMIUM, *flags],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=ends)
        for fd in ends:
            os.close(fd)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)
        self.call("Emulation.setDeviceMetricsOverride", session=True, width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._read], [], [], remaining)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, *, session: bool = False, timeout: float = HANG_GUARD, **params: object) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = HANG_GUARD) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for index, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(index)
            self.events.append(self._receive(deadline))

    def open(self, url: str) -> None:
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str) -> object:
        result = self.call("Runtime.evaluate", session=True, expression=expression, returnByValue=True,
                           awaitPromise=True)
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        data = self.call("Page.captureScreenshot", session=True, format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def console_errors(self) -> list[str]:
        errors = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                errors.append(params["exceptionDetails"].get("text", "exception"))
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                errors.append(f"{params['entry']['text']} {params['entry'].get('url', '')}")
        return errors

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass  # the browser may close the pipe before it answers
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._read)
        os.close(self._write)


IMAGES = "Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth])"


def _small_plot(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [1, 0.5, 0.3])
    fig.savefig(path, dpi=60)
    plt.close(fig)


def _demo_study(ctx: StudyContext) -> StudyOutput:
    """A study like the real ones: a figure, a table and code in markdown, links relative to results/."""
    _small_plot(ctx.plot("site_demo.png"))
    text = ("A demo study.\n\n| steps | loss |\n|---|---|\n| 1 | 0.5 |\n\n![demo](plots/site_demo.png)\n\n"
            "```python\nprint('hi')\n```\n")
    return StudyOutput(text, ("plots/site_demo.png",))


def _speed_report(images: tuple[str, ...]) -> SpeedReport:
    rows = [dict(section="dispatch", name="x + y, 64 elements", backend="scratch", device="cpu", dtype="float32",
                 m=64, seconds=2e-6, q25=2e-6, q75=2e-6, samples=3, per_block=10)]
    bench = BenchResult(bench_frame(rows), [], {"torch_threads": 1, "blas": []}, 1, 1.0, True, "wall", (0.0, 0.0, 0.0))
    return SpeedReport(bench, {"cpu": "test CPU", "cpu_count": 2, "gpu": None}, images)


def test_speed_page_renders_the_section_and_the_plots_it_does_not_link() -> None:
    page = speed_page("## Speed\n\n| m | s |\n|---|---|\n| 1 | 2 |\n\n![a](plots/speed_a.png)\n",
                      ["plots/speed_a.png", "plots/speed_b.png"])
    assert "<h2>Speed</h2>" in page and "<td>1</td>" in page
    assert page.count('src="../plots/speed_a.png"') == 1 and page.count('src="../plots/speed_b.png"') == 1
    assert speed_page("", []) == ""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real one-seed report of logistic regression (with one demo study) into a temporary results folder."""
    out = tmp_path_factory.mktemp("results")
    # What `make bench` leaves in results/ before a report: speed.json linking one plot, and one plot it does not.
    atomic_write_json(out / "speed.json", _speed_report(("plots/speed_a.png",)).to_json())
    for name in ("speed_a.png", "speed_b.png"):
        _small_plot(out / "plots" / name)
    demo = Study("site_demo", CONCEPT, "Demo study", _demo_study)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(studies._STUDIES, demo.name, demo)
        make_report(out, names=[CONCEPT], seeds=(0,), quick=True)
    return out / "study"


def test_no_generated_file_names_a_path_of_the_building_machine(site: Path) -> None:
    """Every file of a real report (pages, plots, notebooks, tables, JSON) is free of this machine's paths."""
    out = site.parent
    machine_paths = {str(REPO_ROOT), str(out), str(out.resolve()), str(Path.home()), sys.prefix, sys.executable}
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {"report.md", "runs.json", "environment.json", "index.html", f"{CONCEPT}_loss.png"} <= {p.name for p in
                                                                                                 files}
    for path in files:
        data = path.read_bytes()
        for machine_path in machine_paths:
            assert machine_path.encode() not in data, f"{path.relative_to(out)} names {machine_path}"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    chromium = Chromium(tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


@pytest.mark.browser
def test_study_site_in_headless_chromium(browser: Chromium, site: Path, tmp_path: Path) -> None:
    """Every concept section and image present, no console error, screenshots taken. (``browser`` comes
    first so that without chromium the test skips before making the report.)"""
    cases = select_cases([CONCEPT])
    browser.open((site / "index.html").as_uri())
    overview = browser.evaluate("Array.from(document.querySelectorAll('table.overview a')).map(a => a.href)")
    assert overview == [(site / f"{CONCEPT}.html").as_uri()]
    assert browser.evaluate("document.querySelector('table.overview .badge').textContent") == "pass"
    browser.screenshot(tmp_path / "index.png")
    sidebar = browser.evaluate("Array.from(document.querySelectorAll('.sidebar li a')).map(a => a.href)")
    assert sidebar == [*overview, (site / "speed.html").as_uri(), (site / "check.html").as_uri()]
    browser.open((site / "check.html").as_uri())
    assert browser.evaluate("document.querySelector('main h1').textContent") == "Check your own implementation"

    browser.open((site / "speed.html").as_uri())
    assert browser.evaluate("document.querySelector('main h2').textContent") == "Speed"
    speed_images = [(src, complete and width > 0) for src, complete, width in browser.evaluate(IMAGES)]
    assert speed_images == [("../plots/speed_a.png", True), ("../plots/speed_b.png", True)]

    browser.open((site / f"{CONCEPT}.html").as_uri())
    sections = browser.evaluate("Array.from(document.querySelectorAll('section.concept')).map(s => s.id)")
    assert sections == [CONCEPT]
    headings = browser.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
    for heading in ("Equations", "Parity of the last run", "Gradient check", "Speed", "Loss curves",
                    "The two implementations, stage by stage", "Demo study"):
        assert heading in headings
    rows = browser.evaluate("Array.from(document.querySelectorAll('h2#parity + p + table tbody tr')).length")
    assert rows == len(cases)  # a quick report: float64 per variant, CPU
    code = browser.evaluate("Array.from(document.querySelectorAll('.side-by-side .column')).map(c => c.innerText)")
    assert "Z = w.T @ X + b" in code[0] and "class LogisticRegression" in code[1]  # forward beside forward
    images = browser.evaluate(IMAGES)
    sources = [src for src, _, _ in images]
    assert f"../plots/{CONCEPT}_loss.png" in sources and "../plots/site_demo.png" in sources
    assert sum(src.startswith("data:image/svg+xml") for src in sources) >= len(cases[0].equations)
    broken = [src for src, complete, width in images if not (complete and width > 0)]
    assert broken == []
    browser.screenshot(tmp_path / "concept.png")
    assert browser.console_errors() == []
    for shot in ("index.png", "concept.png"):
        assert (tmp_path / shot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


FITS = """JSON.stringify({
  page: document.documentElement.scrollWidth <= innerWidth,
  code: Array.from(document.querySelectorAll('pre')).filter(p => p.scrollWidth > p.clientWidth + 1).length,
  numbers: document.querySelectorAll('span.num').length,
  broken: Array.from(document.querySelectorAll('span.num')).filter(s => s.getClientRects().length > 1).length})"""


@pytest.mark.browser
def test_on_a_narrow_screen_code_wraps_and_numbers_stay_whole(browser: Chromium, site: Path) -> None:
    """At 700 px: the page does not scroll sideways, no code block overflows its column, no number is split."""
    browser.call("Emulation.setDeviceMetricsOverride", session=True, width=700, height=900, deviceScaleFactor=1,
                 mobile=False)
    try:
        browser.open((site / f"{CONCEPT}.html").as_uri())
        fits = json.loads(browser.evaluate(FITS))
        assert fits["page"] and fits["code"] == 0
        assert fits["numbers"] > 0 and fits["broken"] == 0
    finally:
        browser.call("Emulation.setDeviceMetricsOverride", session=True, width=1400, height=1000,
                     deviceScaleFactor=1, mobile=False)


@pytest.mark.browser
def test_broken_image_and_script_error_are_caught(browser: Chromium, tmp_path: Path) -> None:
    """The checks above can fail: a missing image and a console error are seen."""
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><link rel="icon" href="data:,"><img src="missing.png">'
                    "<script>console.error('boom')</script>")
    browser.events.clear()
    browser.open(page.as_uri())
    assert [width for _, _, width in browser.evaluate(IMAGES)] == [0]
    assert any(re.search("boom", e) for e in browser.console_errors())

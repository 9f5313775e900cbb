"""The documentation stays true: docstring examples run (doctest), links and
images in README.md and docs/*.md point at files that exist, the README keeps
the set-up commands CI runs, and docs/architecture.md maps every module of the
package and the layering rule it states holds."""

import ast
import doctest
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "betavae_tf"
USER_DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ARCHITECTURE = ROOT / "docs" / "architecture.md"


@pytest.mark.parametrize(
    "module",
    ["betavae_tf", "betavae_tf.layers", "betavae_tf.models", "betavae_tf.schedules",
     "betavae_tf.presets", "betavae_tf.datasets.dsprites", "betavae_tf.optimizers",
     "betavae_tf.runs"],
)
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


# --- Links and images -------------------------------------------------------

FENCE = re.compile(r"^(```|~~~).*?^\1[ \t]*$", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target), with an optional "title"; text may hold `code`
# (kept in the prose) and one level of brackets.
MARKDOWN_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_LINK = re.compile(r"""<(?:img|a)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", re.I)
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)


def _without_code_blocks(text: str) -> str:
    return FENCE.sub("", text)


def _links(text: str) -> list[str]:
    """Link and image targets, as a markdown renderer sees them: not inside
    fenced code blocks or inline code spans (a span inside a link's text
    keeps the link)."""
    prose = INLINE_CODE.sub("CODE", _without_code_blocks(text))
    return MARKDOWN_LINK.findall(prose) + HTML_LINK.findall(prose) + REFERENCE_LINK.findall(prose)


def _slug(heading: str) -> str:
    """The anchor a code-hosting site (GitHub) gives a heading."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links -> their text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    anchors, seen = set(), {}
    for line in _without_code_blocks(path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = _slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def _is_external(target: str) -> bool:
    return re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) is not None  # https:, mailto:, ...


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_image_points_at_a_file_that_exists(doc):
    broken = []
    for target in _links(doc.read_text(encoding="utf-8")):
        if _is_external(target):
            continue
        path_part, _, anchor = target.partition("#")
        linked = (doc.parent / path_part).resolve() if path_part else doc
        if not linked.exists():
            broken.append(f"{target} (no such file: {linked})")
        elif not linked.resolve().is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target} (no heading with anchor #{anchor} in {linked.name})")
    assert not broken, f"{doc.name}: broken links: {broken}"


def test_the_link_checker_sees_links_images_and_anchors(tmp_path):
    doc = tmp_path / "doc.md"
    (tmp_path / "there.png").write_bytes(b"")
    doc.write_text(
        "# A `code` heading\n\n![img](there.png) [ok](#a-code-heading) [`x`](missing.md)\n"
        "<img src=\"gone.png\">\n\n```\n[not a link](nowhere.md)\n```\n", encoding="utf-8")
    assert _links(doc.read_text(encoding="utf-8")) == [
        "there.png", "#a-code-heading", "missing.md", "gone.png"]
    assert _anchors(doc) == {"a-code-heading"}
    assert _slug("Studies and UDR (`betavae-tf study`)") == "studies-and-udr-betavae-tf-study"


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_user_facing_docs_do_not_talk_to_the_developers(doc):
    text = doc.read_text(encoding="utf-8").lower()
    for phrase in ("seed document", "the seed's", "../shared"):
        assert phrase not in text, f"{doc.name} mentions {phrase!r}"


# --- README -------------------------------------------------------------------

def test_readme_keeps_the_two_set_up_commands_ci_runs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    for command in (
        'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/betavae-tf train',
        ".venv/bin/python -m pytest",
    ):
        assert f"\n{command}\n" in readme, command
        assert f"\n{command}\n" in ci, command


def test_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    assert "<!-- main-job-figures -->" in readme  # where the main job's numbers are updated


# --- docs/architecture.md ---------------------------------------------------

LAYERS = ("Foundations", "Data", "Model", "Training", "Evaluation and pictures", "Runs",
          "Command line")


def _modules() -> list[str]:
    """Every module of the package, as a path relative to betavae_tf/."""
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))


def _sections() -> dict[str, str]:
    """`### heading` -> its text, for the sections of docs/architecture.md."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    parts = re.split(r"^(#{2,3} .*)$", text, flags=re.M)
    return {parts[i].lstrip("# ").strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def _mentions(text: str, module: str) -> bool:
    if f"`{module}`" in text:
        return True
    package = module.rsplit("/", 1)[0]
    return module.endswith("/__init__.py") and f"`{package}/`" in text


def _layer_of(module: str, sections: dict[str, str]) -> int | None:
    for index, layer in enumerate(LAYERS):
        for heading, text in sections.items():
            if heading.startswith(layer) and _mentions(text, module):
                return index
    return None


def test_the_architecture_map_has_a_line_for_every_module():
    text = ARCHITECTURE.read_text(encoding="utf-8")
    missing = [m for m in _modules() if not _mentions(text, m)]
    assert not missing, (
        f"docs/architecture.md has no line for {missing}: add one, as `path/module.py`, "
        "to the table of its layer")


def _imported_modules(path: Path) -> set[str]:
    """The betavae_tf modules `path` imports, except inside a module-level
    `__getattr__` (a shim's lazy re-export)."""
    import betavae_tf

    tree = ast.parse(path.read_text(encoding="utf-8"))
    shim_nodes = {
        id(node)
        for function in tree.body
        if isinstance(function, ast.FunctionDef) and function.name == "__getattr__"
        for node in ast.walk(function)
    }
    names = set()
    for node in ast.walk(tree):
        if id(node) in shim_nodes:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "betavae_tf":
            names.add(node.module)
            for alias in node.names:  # `from betavae_tf.plots import figures` names a module
                names.add(f"{node.module}.{alias.name}")
                if node.module == "betavae_tf" and alias.name in betavae_tf._MODULE_OF:
                    names.add(f"betavae_tf.{betavae_tf._MODULE_OF[alias.name]}")  # a lazy export
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.split(".")[0] == "betavae_tf")
    modules = set()
    for name in names:
        parts = name.split(".")[1:]
        if not parts:  # the package itself
            continue
        for candidate in (Path(*parts[:-1], parts[-1] + ".py"), Path(*parts, "__init__.py")):
            if (PACKAGE / candidate).exists():
                modules.add(candidate.as_posix())
    return modules


def test_lower_layers_never_import_higher_ones():
    sections = _sections()
    layer_of = {m: _layer_of(m, sections) for m in _modules()}
    violations = []
    for module, layer in layer_of.items():
        if layer is None:  # the package's lazy exports and the shims
            continue
        for imported in sorted(_imported_modules(PACKAGE / module)):
            imported_layer = layer_of.get(imported)
            if imported_layer is not None and imported_layer > layer:
                violations.append(f"{module} ({LAYERS[layer]}) imports {imported} "
                                  f"({LAYERS[imported_layer]})")
    assert not violations, violations
    # The layers are really assigned (a renamed heading must not empty the check).
    assert sum(layer is not None for layer in layer_of.values()) >= 50


# --- Python examples ----------------------------------------------------------

PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("doc", USER_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples_parse_and_import_names_that_exist(doc):
    """The examples are not run (they train), but they must be valid Python
    and every name they import from betavae_tf must exist."""
    for block in PYTHON_BLOCK.findall(doc.read_text(encoding="utf-8")):
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module.split(".")[0] == "betavae_tf":
                module = importlib.import_module(node.module)
                missing = [a.name for a in node.names if not hasattr(module, a.name)]
                assert not missing, f"{doc.name}: {node.module} has no {missing}"

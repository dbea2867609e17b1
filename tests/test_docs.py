"""The README and docs/ say only what is true: every command they show parses, every link resolves.

Each ```bash block line (``\\`` continuations joined) that runs ``lex-dpr`` is walked down the real Typer
app: the command path (``rag ask``, ``sweep preset``) must exist and its ``--help`` must exit 0, and every
``--option`` the line uses must be one that command's ``--help`` lists. ``key=value`` overrides are
positional and not checked; ``|``, ``>``, ``;`` and ``&&`` end a command. Every relative Markdown link must
name an existing file, and an ``#anchor`` into a ``.md`` file a heading with that GitHub slug. The README's
layer table must say what ``tests/test_layers.py``'s ``LAYERS`` says, and a source or test file the pages name
must still exist. Failures name the file and line.
"""

from __future__ import annotations

import ast
import re
import shlex
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
OPERATORS = {"|", "||", "&", "&&", ";", ">", ">>", "<", "2>", "&>", "(", ")"}
LINK = re.compile(r"!?\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")


@dataclass(frozen=True)
class Shown:
    """One ``lex-dpr`` command as a page shows it."""

    file: str
    line: int
    tokens: tuple[str, ...]  # the words after ``lex-dpr``

    def where(self) -> str:
        return f"{self.file}:{self.line}: lex-dpr {' '.join(self.tokens)}"


def _rel(path: Path, root: Path = ROOT) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _prose_lines(path: Path):
    """(line number, text) of every line outside fenced code blocks."""
    fence = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.lstrip()
        if fence is None and stripped.startswith(("```", "~~~")):
            fence = stripped[:3]
        elif fence is not None and stripped.startswith(fence):
            fence = None
        elif fence is None:
            yield number, line


def _bash_commands(path: Path):
    """(first line number, joined command line) for each line of each ```bash block."""
    lines = path.read_text(encoding="utf-8").splitlines()
    in_bash, pending, start = False, "", 0
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_bash = not in_bash and stripped[3:].strip() in ("bash", "sh", "shell", "console")
            pending = ""
            continue
        if not in_bash:
            continue
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield start, pending + line
        pending = ""


def _segments(text: str) -> list[list[str]]:
    """The simple commands of one shell line: comments dropped, split at pipes, redirections and lists."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    segments: list[list[str]] = [[]]
    try:
        for token in lexer:
            if token in OPERATORS or set(token) <= set("|&;<>()"):
                segments.append([])
            else:
                segments[-1].append(token)
    except ValueError as exc:  # an unclosed quote
        raise AssertionError(f"cannot read the shell line {text!r}: {exc}") from exc
    return [s for s in segments if s]


def shown_commands(path: Path) -> list[Shown]:
    """Every ``lex-dpr ...`` the page's bash blocks run (after ``VAR=value`` or ``poetry run`` prefixes)."""
    found = []
    for number, text in _bash_commands(path):
        for words in _segments(text):
            while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
                words = words[1:]
            if words[:2] == ["poetry", "run"]:
                words = words[2:]
            if words and words[0] == "lex-dpr":
                found.append(Shown(_rel(path), number, tuple(words[1:])))
    return found


@cache
def _root_command():
    import typer

    from lex_dpr.cli.main import app

    return typer.main.get_command(app)


def _options(command) -> dict[str, object]:
    """Option name → click parameter, as ``--help`` lists them (plus ``--help`` itself)."""
    names: dict[str, object] = {"--help": None}
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option" and not getattr(param, "hidden", False):
            for name in [*param.opts, *param.secondary_opts]:
                names[name] = param
    return names


def _is_option(token: str) -> bool:
    return token.startswith("-") and token != "-" and not re.fullmatch(r"-\d.*", token)


def _unlisted(command, path: list[str], used: list[str]) -> list[str]:
    listed = _options(command)
    return [f"`{' '.join(['lex-dpr', *path])} --help` lists no {o}" for o in used if o not in listed]


def resolve(tokens: tuple[str, ...]) -> tuple[tuple[str, ...], list[str], list[str]]:
    """Walk the words down the app: (command path, options it uses, problems found on the way)."""
    command, path, problems, used = _root_command(), [], [], []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == "--":  # the rest is positional
            break
        if _is_option(token):
            name = token.split("=", 1)[0]
            used.append(name)
            param = _options(command).get(name)
            if hasattr(command, "commands") and param is not None and "=" not in token \
                    and not getattr(param, "is_flag", False):
                index += max(getattr(param, "nargs", 1), 1)  # a group option's value is not a subcommand
        elif hasattr(command, "commands"):
            sub = command.commands.get(token)
            if sub is None:
                problems.append(f"`{' '.join(['lex-dpr', *path])}` has no command {token!r} "
                                f"(it has {', '.join(sorted(command.commands))})")
                break
            problems += _unlisted(command, path, used)
            command, used = sub, []
            path.append(token)
        index += 1
    return tuple(path), used, problems + _unlisted(command, path, used)


@cache
def help_result(path: tuple[str, ...]) -> tuple[int, str]:
    from typer.testing import CliRunner

    from lex_dpr.cli.main import app

    result = CliRunner().invoke(app, [*path, "--help"])
    return result.exit_code, result.output


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: link text kept, lower case, punctuation dropped, spaces → ``-``."""
    text = LINK.sub(lambda m: m.group("text"), heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    kept = [c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM"]
    return "".join(kept).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    for _, line in _prose_lines(path):
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug = github_slug(match.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            if count:
                seen[f"{slug}-{count}"] = 1
    return set(seen)


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    problems = []
    for number, line in _prose_lines(path):
        for match in LINK.finditer(re.sub(r"`[^`]*`", "", line)):
            target = match.group("target")
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:, ...
                continue
            file_part, _, anchor = target.partition("#")
            where = f"{_rel(path, root)}:{number}: [{match.group('text')}]({target})"
            linked = (path.parent / file_part).resolve() if file_part else path
            if not linked.exists():
                problems.append(f"{where}: no file {_rel(linked, root)}")
            elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{where}: no heading with the anchor #{anchor} in {_rel(linked, root)}")
    return problems


def test_the_docs_pages_exist():
    names = {p.name for p in DOCS}
    assert "README.md" in names and len(names) > 1, "README.md and docs/*.md are what this file checks"


def test_every_command_shown_parses():
    problems = []
    for shown in (s for page in DOCS for s in shown_commands(page)):
        path, _, found = resolve(shown.tokens)
        problems += [f"{shown.where()}\n    {p}" for p in found]
        code, output = help_result(path)
        if code != 0:
            problems.append(f"{shown.where()}\n    `lex-dpr {' '.join(path)} --help` exits {code}: {output[-300:]}")
    assert not problems, "commands the docs show that lex-dpr does not accept:\n" + "\n".join(problems)


def test_the_readme_shows_one_command_of_each_group():
    paths = {resolve(s.tokens)[0][:1] for s in shown_commands(ROOT / "README.md")}
    groups = {"preprocess", "train", "eval", "sweep", "index", "rag", "synth", "serve", "embed", "visualize"}
    assert not groups - {p[0] for p in paths if p}, f"the README shows no example of {groups - {p[0] for p in paths}}"


def test_every_relative_link_resolves():
    problems = [p for page in DOCS for p in broken_links(page)]
    assert not problems, "links that lead nowhere:\n" + "\n".join(problems)


def test_every_file_the_docs_name_exists():
    """A backticked `lex_dpr/...`, `tests/...`, `bench/...` or `scripts/...` file (and its `::test`) is still there."""
    named = re.compile(r"`((?:lex_dpr|tests|bench|scripts)/[\w/.-]+\.(?:py|sh|yaml|tsv))(?:::(\w+))?")
    problems = []
    for page in DOCS:
        for number, line in _prose_lines(page):
            for match in named.finditer(line):
                path, name = match.groups()
                if not (ROOT / path).is_file():
                    problems.append(f"{_rel(page)}:{number}: no file {path}")
                elif name and not re.search(rf"def {name}\b", (ROOT / path).read_text(encoding="utf-8")):
                    problems.append(f"{_rel(page)}:{number}: {path} has no {name}")
    assert not problems, "files the docs name that are gone:\n" + "\n".join(problems)


def test_every_docs_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {m.group("target").partition("#")[0] for m in LINK.finditer(readme)}
    missing = [_rel(p) for p in DOCS[1:] if _rel(p) not in linked]
    assert not missing, f"README.md links to none of {missing}"


def test_the_readme_layer_table_is_test_layers():
    tree = ast.parse((ROOT / "tests" / "test_layers.py").read_text(encoding="utf-8"))
    layers = next(ast.literal_eval(n.value) for n in tree.body
                  if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "LAYERS")
    table: dict[str, int] = {}
    for _, line in _prose_lines(ROOT / "README.md"):
        match = re.match(r"\|\s*(\d+)\s*\|([^|]*)\|", line)
        if match:
            table.update((name, int(match.group(1))) for name in re.findall(r"`([a-z_]+)`", match.group(2)))
    expected = {k: v for k, v in layers.items() if k != "__init__"}
    assert table == expected, (f"README.md's layer table differs from tests/test_layers.py's LAYERS: "
                               f"README {sorted(set(table.items()) - set(expected.items()))}, "
                               f"LAYERS {sorted(set(expected.items()) - set(table.items()))}")


# The checker itself: it must catch what it is for.

def test_the_checker_reads_continuations_comments_and_operators(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n```bash\nX=1 lex-dpr rag ask \"질문 # 아님\" \\\n  --index i/ # a comment --bogus\n"
                    "lex-dpr runs list runs/ ; lex-dpr eval --help | grep --k\n```\n", encoding="utf-8")
    found = [(s.line, s.tokens) for s in shown_commands(page)]
    assert found == [(3, ("rag", "ask", "질문 # 아님", "--index", "i/")), (5, ("runs", "list", "runs/")),
                     (5, ("eval", "--help"))]


@pytest.mark.parametrize("words, problem", [
    ("rag aks q --index i/", "`lex-dpr rag` has no command 'aks'"),
    ("train --config x.yaml --no-such-flag trainer.lr=0.1", "`lex-dpr train --help` lists no --no-such-flag"),
    ("sweep --bogus x agent", "`lex-dpr sweep --help` lists no --bogus"),
])
def test_the_checker_catches_a_bad_command(words, problem):
    assert any(p.startswith(problem) for p in resolve(tuple(words.split()))[2])


def test_the_checker_accepts_overrides_and_group_options():
    assert resolve(("train", "--config", "train", "lora.r=16", "~eval.bm25", "--set", "a=1"))[0] == ("train",)
    assert resolve(("sweep", "agent", "--config", "c.yaml", "--count", "6"))[2] == []


def test_the_checker_catches_a_broken_link(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# Title\n## Two words, `code` and [a link](x.md)\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text("[ok](docs/a.md#two-words-code-and-a-link) [bad](docs/b.md) [anchor](docs/a.md#nope)\n"
                    "```bash\n[not a link](nowhere.md)\n```\n", encoding="utf-8")
    problems = broken_links(page, root=tmp_path)
    assert [p.split(": ", 1)[0] for p in problems] == ["page.md:1", "page.md:1"]
    assert "no file docs/b.md" in problems[0] and "no heading with the anchor #nope" in problems[1]


@pytest.mark.parametrize("heading, slug", [
    ("Set-up: the two commands", "set-up-the-two-commands"),
    ("`index build` and `rag ask`", "index-build-and-rag-ask"),
    ("Questions in the statutes' words", "questions-in-the-statutes-words"),
    ("한국 법령 검색", "한국-법령-검색"),
    ("run_cap and time_window", "run_cap-and-time_window"),
])
def test_github_slug(heading, slug):
    assert github_slug(heading) == slug

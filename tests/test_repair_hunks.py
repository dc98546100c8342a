"""Edits instead of whole files: SEARCH/REPLACE hunks as small models write them, the fallbacks
(a rewritten function, a whole file), and the prompt that asks for them within the context."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from ponder.plugin.repair.edits import read_edit
from ponder.plugin.repair.excerpts import CodeExcerpt, FailedTest, suspect_code
from ponder.plugin.repair.guarded import GuardedVerifier
from ponder.plugin.repair.hunks import EditError
from ponder.plugin.repair.localize import Suspect
from ponder.plugin.repair.project import Project
from ponder.plugin.repair.prompts import answer_room, repair_messages
from ponder.verifiers.answers import extract_code
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.types import Chain, StepScore, VerifyTask
from tests._repair import BUG, EXAMPLE, FIX

STATS = (EXAMPLE / "stats.py").read_text()
FIXED = STATS.replace(BUG, FIX)
TESTS = {"test_stats.py": (EXAMPLE / "test_stats.py").read_text()}
SEARCH = f"    for start in {BUG}:"
REPLACE = f"    for start in {FIX}:"


def _edit(text: str, sources: dict[str, str] | None = None, *, target: str = "stats.py") -> dict[str, str]:
    return read_edit(
        text, extract_code(text), sources=sources or {"stats.py": STATS}, tests=TESTS, target=target
    ).files


def _hunk(search: str, replace: str, path: str = "") -> str:
    head = f"{path}\n" if path else ""
    return f"{head}<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(f"stats.py\n```python\n{_hunk(SEARCH, REPLACE)}```\n", id="aider: path, fence, hunk"),
        pytest.param(f"Fix:\n{_hunk(SEARCH, REPLACE)}", id="no fence, no path"),
        pytest.param(f"```python\n# File: stats.py\n{_hunk(SEARCH, REPLACE)}```", id="path inside the fence"),
        pytest.param(f"In `stats.py`:\n```py\n{_hunk(SEARCH, REPLACE)}```", id="path in prose"),
        pytest.param(f"```python stats.py\n{_hunk(SEARCH, REPLACE)}```", id="path on the fence"),
        pytest.param(_hunk(f"  16 | {SEARCH}", f"  16 | {REPLACE}"), id="line numbers copied"),
        pytest.param(_hunk(SEARCH.strip(), REPLACE.strip()), id="indentation dropped"),
        pytest.param(_hunk("  " + SEARCH + "   ", "  " + REPLACE), id="over-indented, trailing spaces"),
        pytest.param(
            _hunk(SEARCH, REPLACE).replace("SEARCH", "ORIGINAL").replace("REPLACE", "UPDATED"),
            id="aider's older markers",
        ),
        pytest.param(_hunk(SEARCH, REPLACE).replace("\n", "\r\n"), id="CRLF reply"),
        pytest.param(
            f"The bound in `values.count` is off:\n{_hunk(SEARCH, REPLACE)}", id="code in prose, not a path"
        ),
        pytest.param(
            "<<<< SEARCH\n\n" + SEARCH + "\n\n=======\n" + REPLACE + "\n>>>>>>>\n", id="short markers, blanks"
        ),
    ],
)
def test_hunk_variants_small_models_write_all_apply_exactly(reply: str) -> None:
    assert _edit(reply) == {"stats.py": FIXED}


def test_a_multi_line_hunk_keeps_the_relative_indentation_and_re_indents_the_block() -> None:
    body = f"for start in {BUG}:\n    averages.append(mean(values[start : start + window]))"
    fixed = f"for start in {FIX}:\n    averages.append(mean(values[start : start + window]))"
    assert _edit(_hunk(body, fixed)) == {"stats.py": FIXED}


def test_several_hunks_apply_in_order_and_no_op_hunks_are_skipped() -> None:
    reply = _hunk(SEARCH, REPLACE) + "\n" + _hunk("    return averages", "    return averages")
    reply += _hunk(
        '    """How many readings are strictly above `threshold`."""', '    """Readings above it."""'
    )
    files = read_edit(reply, None, sources={"stats.py": STATS}, tests=TESTS, target="stats.py")
    assert files.kind == "hunks" and files.detail == "3 hunks in stats.py"
    assert files.files["stats.py"] == FIXED.replace(
        "How many readings are strictly above `threshold`.", "Readings above it."
    )


def test_an_edit_of_no_op_hunks_only_changes_nothing_and_says_so() -> None:
    with pytest.raises(EditError, match="the edit changes nothing: each REPLACE equals its SEARCH"):
        _edit(_hunk(SEARCH, SEARCH))


def test_hunks_across_two_files_are_one_edit() -> None:
    sources = {"pkg/a.py": "def f():\n    return 1\n", "pkg/b.py": "def g():\n    return 1\n"}
    reply = _hunk("    return 1", "    return 2", "a.py") + _hunk(
        "    return 1", "    return 3", "./pkg/b.py"
    )
    assert _edit(reply, sources, target="pkg/a.py") == {
        "pkg/a.py": "def f():\n    return 2\n",
        "pkg/b.py": "def g():\n    return 3\n",
    }


def test_a_hunk_without_a_path_is_found_where_its_lines_are() -> None:
    sources = {"main.py": "x = 1\n", "helper.py": "def rate():\n    return 0.02\n"}
    assert _edit(_hunk("    return 0.02", "    return 0.2"), sources, target="main.py") == {
        "helper.py": "def rate():\n    return 0.2\n"
    }


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        pytest.param(
            _hunk("        raise ValueError", "        raise TypeError"),
            "hunk 1: the SEARCH lines match nothing in the project's source files; copy the lines",
            id="no match",
        ),
        pytest.param(
            _hunk("for start in range(len(values)):", "x", "stats.py"),
            f"match nothing in stats.py; copy the lines to change exactly as the file has them, without line "
            f"numbers; the nearest is line 16: `for start in {BUG}:`",
            id="no match, closest line named",
        ),
        pytest.param(
            _hunk("    if not values:", "    if values is None:") + _hunk("        raise ValueError(", "x"),
            "hunk 2: the SEARCH lines match nothing",
            id="second hunk",
        ),
        pytest.param(_hunk("", "import math"), "hunk 1 has an empty SEARCH section", id="empty search"),
        pytest.param(
            _hunk(SEARCH, REPLACE, "stat.py"),
            "hunk 1 names stat.py, which is not a file of this project; name one of: stats.py",
            id="unknown file",
        ),
        pytest.param(
            f"<<<<<<< SEARCH\n{SEARCH}\n=======\n{REPLACE}\n",
            "end its SEARCH/REPLACE block with >>>>>>> REPLACE",
            id="cut off",
        ),
    ],
)
def test_hunks_that_cannot_be_applied_say_why(reply: str, message: str) -> None:
    with pytest.raises(EditError) as caught:
        _edit(reply)
    assert message in str(caught.value)


def test_a_hunk_whose_lines_are_in_several_places_is_ambiguous() -> None:
    sources = {"m.py": "def f(x):\n    return x\n\n\ndef g(x):\n    return x\n", "n.py": "Y = 0\n"}
    with pytest.raises(
        EditError, match=r"hunk 1: the SEARCH lines match 2 places in m.py \(lines 2, 6\); add a line"
    ):
        _edit(_hunk("    return x", "    return -x"), sources, target="m.py")
    unique = _hunk("def g(x):\n    return x", "def g(x):\n    return -x")
    assert _edit(unique, sources, target="m.py") == {"m.py": sources["m.py"][:-2] + "-x\n"}
    twice = {"a.py": "Z = 1\n", "b.py": "Z = 1\n", "main.py": "import a, b\n"}
    with pytest.raises(EditError, match=r"the SEARCH lines are found in a\.py, b\.py; name the file"):
        _edit(_hunk("Z = 1", "Z = 2"), twice, target="main.py")


def test_a_hunk_touching_a_test_file_is_refused_by_the_patch_guard() -> None:
    project = Project(root=EXAMPLE, sources={"stats.py": STATS}, tests=TESTS)
    verifier = GuardedVerifier(_NoRun(), project=project, target="stats.py")
    reply = _hunk("    assert moving_average([2.0, 4.0], 2) == [3.0]", "    assert True", "test_stats.py")
    edit = verifier.edit_of([reply], extract_code(reply))
    assert list(edit.files) == ["test_stats.py"]
    verdict = verifier.guard(edit)
    assert not verdict.ok
    assert verdict.reason == "rejected: patch edits test file test_stats.py; tests must run unchanged"


class _NoRun(BaseVerifier):
    """A verifier that must never be asked: the guard decides before anything runs."""

    name = "none"

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        raise AssertionError("nothing may run")


# ---------------------------------------------------------------- fallbacks


def _block(code: str, path: str = "") -> str:
    return f"{path}\n```python\n{code}```\n" if path else f"Fixed:\n```python\n{code}```\n"


def test_a_rewritten_function_replaces_only_that_function() -> None:
    function = FIXED[FIXED.index("def moving_average") : FIXED.index("\n\n\ndef above_threshold")] + "\n"
    edit = read_edit(_block(function), function, sources={"stats.py": STATS}, tests=TESTS, target="stats.py")
    assert edit.kind == "functions" and edit.detail == "rewritten moving_average in stats.py"
    assert edit.files == {"stats.py": FIXED}


def test_a_rewritten_method_is_re_indented_into_its_class_and_new_imports_and_helpers_are_added() -> None:
    source = (
        '"""Shapes."""\n\nimport math\n\n\nclass Circle:\n    def __init__(self, r):\n        self.r = r\n\n'
        "    def area(self):\n        return 3 * self.r ** 2\n"
    )
    block = (
        "import math\nfrom functools import cache\n\n\ndef _square(x):\n    return x * x\n\n\n"
        "def area(self):\n    return math.pi * _square(self.r)\n"
    )
    edit = read_edit(_block(block), block, sources={"geo.py": source}, tests={}, target="geo.py")
    assert edit.kind == "functions"
    assert edit.files["geo.py"] == (
        '"""Shapes."""\n\nimport math\nfrom functools import cache\n\n\nclass Circle:\n'
        "    def __init__(self, r):\n        self.r = r\n\n"
        "    def area(self):\n        return math.pi * _square(self.r)\n"
    ).replace("class Circle:", "def _square(x):\n    return x * x\n\n\nclass Circle:"), (
        "a new helper goes at module level, in front of the class of the rewritten method"
    )


def test_a_whole_file_replaces_the_suspect_file_or_the_file_named_above_it() -> None:
    edit = read_edit(_block(FIXED), FIXED, sources={"stats.py": STATS}, tests=TESTS, target="stats.py")
    assert edit.kind == "file" and edit.files == {"stats.py": FIXED}
    sources = {"main.py": "X = 1\n", "conf.py": "Y = 1\n"}
    edit = read_edit(_block("Y = 2\n", "conf.py"), "Y = 2\n", sources=sources, tests={}, target="main.py")
    assert edit.files == {"conf.py": "Y = 2\n"} and edit.detail == "whole file conf.py"


def test_an_unfenced_hunk_is_an_answer_of_the_code_format() -> None:
    reply = "The bound is off by one.\n" + _hunk(SEARCH, REPLACE, "stats.py")
    assert extract_code(reply) == _hunk(SEARCH, REPLACE)
    assert extract_code("no code here") is None


# ---------------------------------------------------------------- the prompt


def _excerpts() -> list[CodeExcerpt]:
    ranked = [Suspect(1.0, "stats.py", 16), Suspect(0.5, "stats.py", 8), Suspect(0.4, "stats.py", 16)]
    return suspect_code({"stats.py": STATS}, ranked, target="stats.py")


def _failures() -> list[FailedTest]:
    code = TESTS["test_stats.py"]
    source = code[code.index("def test_moving_average():") : code.index("\n\n\ndef test_moving_average_of")]
    return [
        FailedTest(
            "test_stats::test_moving_average", "assert [2.0, 3.0] == [2.0, 3.0, 4.0]\nRight has 4.0", source
        ),
        FailedTest("test_stats::test_moving_average_of_whole_series", "assert [] == [3.0]", None),
    ]


def _chars(text: str) -> int:
    return math.ceil(len(text) / 3)


def test_the_prompt_shows_the_suspect_functions_numbered_and_the_failing_tests() -> None:
    excerpts = _excerpts()
    assert [(e.start, e.end) for e in excerpts] == [(11, 18), (4, 8)], (
        "each function once, most suspicious first"
    )
    prompt = repair_messages(
        excerpts=excerpts, failures=_failures(), count_tokens=_chars, context_tokens=4096
    )
    user = prompt.messages[-1].content
    assert prompt.shown == (2, 2, 1)
    assert f"  16 |     for start in {BUG}:" in user and "   4 | def mean(" in user
    assert user.index("   8 |") < user.index("     ...") < user.index("  11 |"), "file order, gaps marked"
    assert "def above_threshold" not in user
    assert (
        "- test_stats::test_moving_average: assert [2.0, 3.0] == [2.0, 3.0, 4.0]\n    Right has 4.0" in user
    )
    assert "        assert moving_average([1.0, 2.0, 3.0, 4.0, 5.0], 3)" in user, (
        "test code indented, not fenced"
    )
    assert "stats.py\n```python\n<<<<<<< SEARCH" in user
    assert 0 < prompt.code_tokens < _chars(user) // 2, "the code shown is the smaller part of the prompt"


def test_a_small_context_keeps_the_top_suspect_and_drops_the_rest() -> None:
    full = repair_messages(
        excerpts=_excerpts(), failures=_failures(), count_tokens=_chars, context_tokens=4096
    )
    small = repair_messages(
        excerpts=_excerpts(), failures=_failures(), count_tokens=_chars, context_tokens=1500
    )
    assert small.shown[0] == 1 and small.shown < full.shown
    user = small.messages[-1].content
    assert f"  16 |     for start in {BUG}:" in user and "def mean(" not in user
    tiny = repair_messages(
        excerpts=_excerpts(), failures=_failures(), count_tokens=_chars, context_tokens=900
    )
    assert f"  16 |     for start in {BUG}:" in tiny.messages[-1].content, (
        "the top suspect, cut round its line"
    )
    assert "  11 | def moving_average" not in tiny.messages[-1].content
    total = sum(_chars(m.content) for m in small.messages)
    assert total + 2 * answer_room(small.code_tokens) <= 1500, "two answers and the prompt fit the window"

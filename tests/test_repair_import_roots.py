"""Where a project's imports resolve from: its pytest config's `pythonpath`, or a src layout's `src`.

The sandbox never reads the project's pytest config (code could rewrite it), so repair reads the
folders on the host, from the project as loaded; these pin how they are read.
"""

from __future__ import annotations

import pytest

from ponder.plugin.repair.errors import RepairInputError
from ponder.plugin.repair.import_roots import import_roots

PKG = {"src/shop/__init__.py": "", "src/shop/cart.py": "X = 1\n"}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src", "lib"]\n'}, ("src", "lib")),
        ({"pyproject.toml": '[tool.pytest.ini_options]\npythonpath = "src lib"\n'}, ("src", "lib")),
        ({"pytest.ini": "[pytest]\npythonpath = lib\n"}, ("lib",)),
        ({"tox.ini": "[pytest]\npythonpath = lib\n"}, ("lib",)),
        ({"setup.cfg": "[tool:pytest]\npythonpath = lib\n"}, ("lib",)),
        ({"pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["."]\n'}, ()),
        ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"}, ()),
    ],
    ids=["pyproject-list", "pyproject-string", "pytest-ini", "tox-ini", "setup-cfg", "root-only", "none-set"],
)
def test_the_config_pytest_would_read_decides(config: dict[str, str], expected: tuple[str, ...]) -> None:
    """A config with a pytest section decides, even where it sets no pythonpath (pytest would
    not look further, and would not add src either)."""
    assert import_roots({**PKG, **config}) == expected


def test_pytest_ini_comes_before_pyproject() -> None:
    sources = {
        **PKG,
        "pytest.ini": "[pytest]\npythonpath = lib\n",
        "pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["src"]\n',
    }
    assert import_roots(sources) == ("lib",)


def test_a_pyproject_without_pytest_section_falls_through_to_the_src_layout() -> None:
    sources = {
        **PKG,
        "pyproject.toml": '[project]\nname = "shop"\n',
        "setup.cfg": "[metadata]\nname = shop\n",
    }
    assert import_roots(sources, {"tests/test_cart.py": "from shop import cart\n"}) == ("src",)


@pytest.mark.parametrize(
    ("files", "test", "expected"),
    [
        (PKG, "from shop.cart import X\n", ("src",)),
        (PKG, "import shop\n", ("src",)),
        ({"src/tool.py": "X = 1\n"}, "import tool\n", ("src",)),
        ({"src/ns/tool.py": "X = 1\n"}, "from ns.tool import X\n", ("src",)),
        (PKG, "import json\n", ()),
        ({**PKG, "src/random.py": "X = 1\n"}, "import random\nimport json\n", ()),
        ({**PKG, "shop/__init__.py": ""}, "import shop\n", ()),
        ({"shop/__init__.py": "", "shop/src/notes.py": ""}, "import shop\n", ()),
    ],
    ids=[
        "package-under-src",
        "package-imported-bare",
        "module-under-src",
        "namespace-package",
        "src-not-imported",
        "stray-stdlib-name-under-src",
        "same-name-at-root-wins",
        "src-deeper-down",
    ],
)
def test_a_src_layout_without_config_imports_from_src_when_the_tests_import_from_it(
    files: dict[str, str], test: str, expected: tuple[str, ...]
) -> None:
    assert import_roots(files, {"tests/test_x.py": test}) == expected


@pytest.mark.parametrize(
    ("config", "needle"),
    [
        (
            {"pyproject.toml": '[tool.pytest.ini_options]\npythonpath = ["../shared"]\n'},
            "outside the project",
        ),
        ({"pytest.ini": "[pytest]\npythonpath = /opt/lib\n"}, "outside the project"),
        ({"pyproject.toml": "[tool.pytest.ini_options\n"}, "pyproject.toml is not valid TOML"),
        ({"setup.cfg": "pythonpath = src\n"}, "setup.cfg cannot be read"),
    ],
    ids=["parent-folder", "absolute", "broken-toml", "broken-ini"],
)
def test_bad_config_is_one_line_naming_the_file(config: dict[str, str], needle: str) -> None:
    with pytest.raises(RepairInputError) as err:
        import_roots({**PKG, **config})
    message = str(err.value)
    assert needle in message and "\n" not in message and ("repair" in message)

"""Settings precedence (flags > PONDER_* env > ponder.toml > defaults) and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.plugin.settings import SettingsError, load_settings


def test_defaults_use_the_embedded_backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(environ={})
    assert s.backend.kind == "embedded"
    assert s.sandbox.kind == "auto"


def test_precedence_flags_over_env_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "ponder.toml"
    cfg.write_text(
        '[backend]\nkind = "openai"\nurl = "http://127.0.0.1:9/v1"\ntimeout_s = 7\n'
        '[search]\nstrategy = "mcts"\nbudget = { max_tokens = 999 }\n'
    )
    env = {"PONDER_BACKEND_TIMEOUT_S": "11", "PONDER_SEARCH_STRATEGY": "beam"}
    s = load_settings(config_file=cfg, environ=env)
    assert (s.backend.kind, s.backend.timeout_s, s.search.strategy) == ("openai", 11.0, "beam")
    assert s.search.budget.max_tokens == 999

    s = load_settings(
        {"search": {"strategy": "dvts"}, "backend": {"timeout_s": None}}, config_file=cfg, environ=env
    )
    assert s.search.strategy == "dvts"
    assert s.backend.timeout_s == 11.0, "a flag left unset (None) must not override the environment"


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        pytest.param({"PONDER_BACKEND_KIND": "gpt"}, "backend.kind='gpt' from environment", id="bad-enum"),
        pytest.param({"PONDER_BACKEND_TIMEOUT_S": "-1"}, "backend.timeout_s=-1", id="negative-timeout"),
        pytest.param({"PONDER_SEARCH_N": "0"}, "search.n=0", id="zero-n"),
    ],
)
def test_bad_environment_values_name_the_field_and_source(
    env: dict[str, str], fragment: str, tmp_path: Path
) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(config_file=None, environ={**env, "PONDER_CONFIG": str(tmp_path / "absent.toml")})
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_bad_toml_is_one_line_with_the_path(tmp_path: Path) -> None:
    cfg = tmp_path / "ponder.toml"
    cfg.write_text("[backend\nkind=1")
    with pytest.raises(SettingsError, match=r"ponder\.toml: not valid TOML"):
        load_settings(config_file=cfg, environ={})


def test_missing_explicit_config_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(config_file=tmp_path / "nope.toml", environ={})


def test_unset_flags_in_a_section_the_lower_layers_never_mention(tmp_path: Path) -> None:
    s = load_settings(
        {"backend": {"n_ctx": None, "url": None}}, config_file=None, environ={"PONDER_CONFIG": "x"}
    )
    assert s.backend.n_ctx == 8192

"""Settings precedence: defaults < TOML (--config, DISPATCH_QA_CONFIG, ./dispatch-qa.toml) < env < flags."""

from __future__ import annotations

import typing
from dataclasses import fields
from pathlib import Path

import pytest

from assistant.cli import build_parser
from assistant.settings import Settings, SettingsError, load_settings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults(tmp_path):
    assert load_settings({}, {}, tmp_path) == Settings()
    assert Settings().data_dir == Path(".dispatch-qa")


def test_each_layer_overrides_the_one_below(tmp_path):
    write(tmp_path / "dispatch-qa.toml", 'top_k = 7\ndense_weight = 0.2\nstore_mode = "server"\nchroma_port = 9001\n')
    from_file = load_settings({}, {}, tmp_path)
    assert (from_file.top_k, from_file.dense_weight, from_file.store_mode, from_file.chroma_port) == (7, 0.2, "server", 9001)
    assert from_file.config == tmp_path / "dispatch-qa.toml"

    env = {"DISPATCH_QA_TOP_K": "9", "DISPATCH_QA_STORE_MODE": "embedded"}
    from_env = load_settings({}, env, tmp_path)
    assert (from_env.top_k, from_env.dense_weight, from_env.store_mode, from_env.chroma_port) == (9, 0.2, "embedded", 9001)

    from_flags = load_settings({"top_k": "11", "chroma_port": None}, env, tmp_path)  # None = flag not given
    assert (from_flags.top_k, from_flags.dense_weight, from_flags.chroma_port) == (11, 0.2, 9001)


def test_config_file_lookup_order(tmp_path):
    write(tmp_path / "dispatch-qa.toml", "top_k = 2\n")
    env_file = write(tmp_path / "env.toml", "top_k = 3\n")
    flag_file = write(tmp_path / "flag.toml", "[dispatch-qa]\ntop_k = 4\n")
    assert load_settings({}, {}, tmp_path).top_k == 2
    env = {"DISPATCH_QA_CONFIG": str(env_file)}
    assert load_settings({}, env, tmp_path).top_k == 3
    chosen = load_settings({"config": str(flag_file)}, env, tmp_path)
    assert chosen.top_k == 4 and chosen.config == flag_file  # settings may sit under a [dispatch-qa] table
    assert load_settings({}, {}, tmp_path / "elsewhere").top_k == Settings().top_k


def test_values_are_coerced_from_strings(tmp_path):
    env = {"DISPATCH_QA_EMBED_TITLES": "no", "DISPATCH_QA_LOCK_TIMEOUT": "2.5", "DISPATCH_QA_DATA_DIR": "~/qa-data",
           "DISPATCH_QA_MAX_FILE_BYTES": "1024"}
    s = load_settings({}, env, tmp_path)
    assert s.embed_titles is False and s.lock_timeout == 2.5 and s.max_file_bytes == 1024
    assert s.data_dir == Path("~/qa-data").expanduser()
    assert load_settings({"embed_titles": True}, env, tmp_path).embed_titles is True
    s = load_settings({}, {"DISPATCH_QA_LOADER_TIMEOUT": "0", "DISPATCH_QA_FOLLOW_SYMLINKS": "yes"}, tmp_path)
    assert s.loader_timeout == 0 and s.follow_symlinks is True
    assert (Settings().loader_timeout, Settings().follow_symlinks) == (10.0, False)


@pytest.mark.parametrize("flags, env, config, expected", [
    ({}, {"DISPATCH_QA_TOP_K": "many"}, None, "environment variable DISPATCH_QA_TOP_K: top_k expects int, got 'many'"),
    ({}, {"DISPATCH_QA_STORE_MODE": "cloud"}, None, "store_mode must be one of embedded, server, got 'cloud'"),
    ({}, {"DISPATCH_QA_EMBED_TITLES": "maybe"}, None, "DISPATCH_QA_EMBED_TITLES"),
    ({"top_k": "0"}, {}, None, "top_k must be at least 1"),
    ({"dense_weight": "1.5"}, {}, None, "dense_weight must be between 0 and 1"),
    ({"loader_timeout": "-1"}, {}, None, "loader_timeout must be 0 (no limit) or a positive number of seconds"),
    ({}, {"DISPATCH_QA_FOLLOW_SYMLINKS": "sometimes"}, None, "DISPATCH_QA_FOLLOW_SYMLINKS"),
    ({}, {}, "colour = 'blue'\n", "unknown setting 'colour'"),
    ({}, {}, "top_k = [1, 2\n", "not valid TOML"),
    ({}, {}, "top_k = 'five'\n", "top_k expects int, got 'five'"),
])
def test_bad_values_are_named_with_their_origin(flags, env, config, expected, tmp_path):
    if config is not None:
        write(tmp_path / "dispatch-qa.toml", config)
    with pytest.raises(SettingsError) as err:
        load_settings(flags, env, tmp_path)
    assert expected in str(err.value)
    if config is not None:
        assert str(tmp_path / "dispatch-qa.toml") in str(err.value)


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(SettingsError, match="not found"):
        load_settings({"config": str(tmp_path / "nope.toml")}, {}, tmp_path)
    with pytest.raises(SettingsError, match="not found"):
        load_settings({}, {"DISPATCH_QA_CONFIG": str(tmp_path / "nope.toml")}, tmp_path)


def test_every_setting_is_documented_and_a_flag_on_every_subcommand():
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert {"index", "ask", "status", "list", "show", "remove", "serve"} <= set(subcommands)
    hints = typing.get_type_hints(Settings)
    for f in fields(Settings):
        assert f.metadata.get("doc"), f"{f.name} has no doc"
        flag = "--" + f.name.replace("_", "-")
        for name, sub in subcommands.items():
            options = {o for a in sub._actions for o in a.option_strings}
            assert flag in options, f"{flag} missing on `{name}`"
            if hints[f.name] is bool:
                assert "--no-" + f.name.replace("_", "-") in options


@pytest.mark.slow  # loads the model (the cli fixture)
def test_precedence_through_the_cli(cli, tmp_path, monkeypatch):
    """`status --json` shows the data dir and store location each layer chose."""
    work = tmp_path / "project"
    write(work / "dispatch-qa.toml", f'data_dir = "{tmp_path / "from-toml"}"\nchroma_port = 8123\n'
                                      'store_mode = "server"\n')
    monkeypatch.chdir(work)
    status = cli("status", "--json").json
    assert status["data_dir"] == str(tmp_path / "from-toml")
    assert (status["store_mode"], status["store_location"]) == ("server", "http://127.0.0.1:8123")

    monkeypatch.setenv("DISPATCH_QA_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("DISPATCH_QA_CHROMA_PORT", "8124")
    status = cli("status", "--json").json
    assert status["data_dir"] == str(tmp_path / "from-env") and status["store_location"] == "http://127.0.0.1:8124"

    status = cli("status", "--json", "--data-dir", tmp_path / "from-flag", "--chroma-port", "8125",
                 "--store-mode", "embedded").json
    assert status["data_dir"] == str(tmp_path / "from-flag")
    assert status["store_location"] == str(tmp_path / "from-flag" / "chroma")

    other = write(tmp_path / "other.toml", "chroma_port = 8126\n")
    monkeypatch.delenv("DISPATCH_QA_CHROMA_PORT")
    monkeypatch.setenv("DISPATCH_QA_CONFIG", str(other))  # replaces ./dispatch-qa.toml entirely
    status = cli("status", "--json").json
    assert (status["store_mode"], status["data_dir"]) == ("embedded", str(tmp_path / "from-env"))

    monkeypatch.setenv("DISPATCH_QA_TOP_K", "lots")
    result = cli("status", "--json")
    assert result.code == 1 and "DISPATCH_QA_TOP_K" in result.json["error"]

"""Settings are checked at start: a bad one stops the app, saying which and why."""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from downloads_portal import DEFAULTS, create_app, fixtures
from downloads_portal import config as settings_table
from downloads_portal.upstream import FileflareClient

from .conftest import TOKEN, free_port, installed, shopify_params, signed

#: A setting's variable and a value that must stop the app, with a word of the answer.
BAD = [
    ("PREVIEW", "no", "true or false"),
    ("PREVIEW", "yes", "true or false"),
    ("PREVIEW", "2", "true or false"),
    ("PROXY_STANDALONE", "nope", "true or false"),
    ("PROXY_REQUIRE_LOGIN", "on", "true or false"),
    ("PROXY_TIMESTAMP_SKEW", "ninety", "a number"),
    ("PROXY_TIMESTAMP_SKEW", "0", "a number"),
    ("PROXY_TIMESTAMP_SKEW", "NaN", "a number"),
    ("LOCAL_CACHE_ITEMS", "-1", "a whole number"),
    ("LOCAL_CACHE_ITEMS", "2.5", "a whole number"),
    ("LOCAL_CACHE_ITEMS", "true", "a whole number"),
    ("LOCAL_CACHE_SECONDS", "-1", "a number of at least 0"),
    ("LOCAL_CACHE_SECONDS", "Infinity", "a number of at least 0"),
    ("PAGE_MEMO_CHARS", "-5", "a whole number"),
    ("PAGE_MEMO_CHARS", "lots", "a whole number"),
    ("UPSTREAM_CONCURRENCY", "0", "a whole number"),
    ("BREAKER_FAILURE_RATE", "1.5", "a number from 0.01 to 1"),
    ("BREAKER_FAILURE_RATE", "half", "a number from 0.01 to 1"),
    ("BREAKER_COOL_OFF_SECONDS", "-1", "a number"),
    ("BREAKER_WINDOW_SECONDS", "3600", "a number from 1 to 600"),
    ("FAILURE_CACHE_SECONDS", "-1", "a number from 0 to 300"),
    ("FAILURE_CACHE_SECONDS", "1e10", "a number from 0 to 300"),
    ("REDIS_TIMEOUT", "0", "a number"),
    ("REDIS_TIMEOUT", "9" * 400, "a number"),
    ("CACHE_THRESHOLD", "0", "a whole number"),
    ("ORDER_CACHE_SECONDS", "٣٠", "a whole number"),
    ("METRICS_PORT", "70000", "a whole number"),
    ("NOT_FOUND_RATE_LIMIT", "lots", "a rate limit"),
    ("NOT_FOUND_RATE_LIMIT", "20", "a rate limit"),
    ("LOG_LEVEL", "loud", "one of"),
    ("CACHE_OPTIONS", "[1]", "a JSON object"),
    ("SHOPIFY_API_SECRET", '["shpss_a", 1]', "a list of texts"),
]


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No DOWNLOADS_PORTAL_* variable but the test's own."""
    for name in list(os.environ):
        if name.startswith("DOWNLOADS_PORTAL_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize(("name", "value", "expects"), BAD)
def test_a_bad_setting_stops_the_app(config, environment, name, value, expects) -> None:
    environment.setenv(f"DOWNLOADS_PORTAL_{name}", value)
    with pytest.raises(RuntimeError) as stopped:
        create_app(config)
    message = str(stopped.value)
    assert message.startswith(f"DOWNLOADS_PORTAL_{name} must be ")
    assert expects in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [("PREVIEW", "maybe"), ("LOCAL_CACHE_ITEMS", -1), ("API_TIMEOUT", "soon")],
)
def test_a_bad_setting_given_to_create_app_stops_it(config, name, value) -> None:
    with pytest.raises(RuntimeError, match=f"DOWNLOADS_PORTAL_{name} must be"):
        create_app({**config, name: value})


def test_the_secret_is_never_shown(config, environment) -> None:
    environment.setenv("DOWNLOADS_PORTAL_SHOPIFY_API_SECRET", '["shpss_x", 2]')
    with pytest.raises(RuntimeError) as stopped:
        create_app(config)
    assert "SHOPIFY_API_SECRET" in str(stopped.value)
    assert "shpss_x" not in str(stopped.value)


@pytest.mark.parametrize("value", ["False", "false", "FALSE", "0", "  false "])
def test_false_in_any_case_is_off(config, environment, value) -> None:
    environment.setenv("DOWNLOADS_PORTAL_PREVIEW", value)
    app = create_app(config)
    assert app.config["PREVIEW"] is False
    assert isinstance(app.extensions["order_store"].source, FileflareClient)
    assert app.test_client().get("/preview").status_code == 404


@pytest.mark.parametrize("value", ["True", "true", "1"])
def test_true_in_any_case_is_on(config, environment, value) -> None:
    environment.setenv("DOWNLOADS_PORTAL_PROXY_STANDALONE", value)
    assert create_app(config).config["PROXY_STANDALONE"] is True


@pytest.mark.parametrize(
    ("name", "value", "read"),
    [
        ("PROXY_TIMESTAMP_SKEW", "30", 30.0),
        ("PROXY_TIMESTAMP_SKEW", "2.5", 2.5),
        ("LOCAL_CACHE_ITEMS", "0", 0),
        ("LOCAL_CACHE_ITEMS", "12", 12),
        ("LOCAL_CACHE_SECONDS", "0.5", 0.5),
        ("NOT_FOUND_RATE_LIMIT", "5/second; 100 per hour", "5/second; 100 per hour"),
        ("LOG_LEVEL", "WARNING", "WARNING"),
        ("METRICS_PORT", "9100", 9100),
        ("STORE_NAME", "2024", "2024"),
        ("CACHE_OPTIONS", '{"mode": 384}', {"mode": 384}),
    ],
)
def test_good_settings_are_read(config, environment, name, value, read) -> None:
    environment.setenv(f"DOWNLOADS_PORTAL_{name}", value)
    assert create_app(config).config[name] == read


def test_a_folder_may_be_a_path(config, tmp_path) -> None:
    app = create_app({**config, "CACHE_DIR": tmp_path / "files"})
    assert app.config["CACHE_DIR"] == str(tmp_path / "files")


def test_every_setting_is_checked() -> None:
    assert set(settings_table.KINDS) == set(DEFAULTS)


@pytest.mark.parametrize("secret", ["12345678", "1e999", "0123"])
def test_a_secret_of_digits_is_the_secret(
    config, environment, serve, caplog, secret
) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    environment.setenv("DOWNLOADS_PORTAL_SHOPIFY_API_SECRET", secret)
    with caplog.at_level(logging.WARNING):
        app = create_app(config)
    assert app.config["SHOPIFY_API_SECRET"] == secret
    assert "is not set" not in caplog.text
    query = signed(shopify_params(), secret=secret)
    answer = app.test_client().get(f"/proxy/orders/{TOKEN}?{query}")
    assert answer.status_code == 200


def test_a_file_where_the_lock_folder_goes_stops_the_app(config, tmp_path) -> None:
    Path(config["CACHE_DIR"] + ".locks").write_text("not a folder")
    with pytest.raises(RuntimeError) as stopped:
        create_app(config)
    assert str(stopped.value).startswith("DOWNLOADS_PORTAL_CACHE_DIR")
    assert "cache.locks" in str(stopped.value)


def run_command(tmp_path: Path, command: str, **settings: Any) -> Any:
    """Run ``downloads-portal <command>`` with these settings until it stops."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOWNLOADS_")}
    env["DOWNLOADS_PORTAL_API_BASE_URL"] = "http://127.0.0.1:9"  # nothing listens
    env.setdefault("DOWNLOADS_PORTAL_CACHE_DIR", str(tmp_path / "cache"))
    env.update({f"DOWNLOADS_PORTAL_{k}": str(v) for k, v in settings.items()})
    return subprocess.run(
        [installed("downloads-portal"), command, "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize("command", ["run", "serve", "preview"])
@pytest.mark.parametrize(
    ("name", "value"),
    [("PROXY_TIMESTAMP_SKEW", "ninety"), ("LOCAL_CACHE_ITEMS", "-1")],
)
def test_commands_stop_with_one_line(tmp_path, command, name, value) -> None:
    done = run_command(tmp_path, command, **{name: value})
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"Error: DOWNLOADS_PORTAL_{name} must be ")


@pytest.mark.parametrize("command", ["run", "serve"])
def test_a_setting_the_app_checks_stops_the_command_too(tmp_path, command) -> None:
    # Checked by the app as it is made: in serve's case, in the worker.
    done = run_command(tmp_path, command, DEFAULT_LOCALE="xx")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert "DOWNLOADS_PORTAL_DEFAULT_LOCALE 'xx' is not one of" in done.stderr

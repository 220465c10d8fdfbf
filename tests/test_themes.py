"""Themes: a folder of templates and static files in front of the built-in ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from downloads_portal import create_app, fixtures

from .conftest import TOKEN

URL = f"/account/orders/{TOKEN}"
EXAMPLE_THEME = Path(__file__).resolve().parent.parent / "examples" / "theme"
THREE_VARIABLES = (
    ":root { --portal-brand: #006d5b; --portal-radius: 0; --portal-font: serif; }\n"
)


def make_theme(root: Path, files: dict[str, str]) -> Path:
    """Write a theme folder from relative paths and their text."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.fixture
def theme(tmp_path) -> Path:
    """One template and three CSS variables: the issue's smallest theme."""
    return make_theme(
        tmp_path / "theme",
        {
            "templates/_header.html": '<header class="site-header">Acme Audio</header>',
            "static/theme.css": THREE_VARIABLES,
        },
    )


@pytest.fixture
def themed(config, theme):
    return create_app({**config, "THEME_DIR": str(theme)}).test_client()


def test_theme_changes_the_page(themed, client, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    plain = client.get(URL).text
    html = themed.get(URL).text
    assert '<header class="site-header">Acme Audio</header>' in html
    assert '<link rel="stylesheet" href="/static/theme.css">' in html
    assert "Acme Audio" not in plain and "theme.css" not in plain
    # Everything else is still the built-in page.
    assert "5 of 10 downloaded" in html
    assert html.index("portal.css") < html.index("theme.css")


def test_theme_stylesheet_is_served(themed, client) -> None:
    with themed.get("/static/theme.css") as response:
        assert response.status_code == 200
        assert response.text == THREE_VARIABLES
        assert response.mimetype == "text/css"
    assert client.get("/static/theme.css").status_code == 404


def test_built_in_static_files_still_served(themed, client) -> None:
    with (
        themed.get("/static/portal.css") as ours,
        client.get("/static/portal.css") as b,
    ):
        assert ours.status_code == 200
        assert ours.data == b.data


def test_theme_overrides_a_static_file(config, tmp_path) -> None:
    root = make_theme(tmp_path / "t", {"static/portal.css": "body { color: red }"})
    client = create_app({**config, "THEME_DIR": str(root)}).test_client()
    with client.get("/static/portal.css") as response:
        assert response.text == "body { color: red }"


def test_theme_overrides_an_error_page(config, tmp_path, serve) -> None:
    root = make_theme(
        tmp_path / "t",
        {
            "templates/errors/404.html": "{% extends 'base.html' %}"
            "{% block content %}<h1>Lost? Write to help@acme.example</h1>{% endblock %}"
        },
    )
    serve(status=404)
    client = create_app({**config, "THEME_DIR": str(root)}).test_client()
    response = client.get(URL)
    assert response.status_code == 404
    assert "help@acme.example" in response.text


@pytest.mark.parametrize(
    "path", ["/static/../pyproject.toml", "/static/%2e%2e/pyproject.toml"]
)
def test_static_stays_inside_the_folders(themed, path) -> None:
    assert themed.get(path).status_code == 404


def test_theme_from_the_environment(monkeypatch, config, theme, serve) -> None:
    monkeypatch.setenv("DOWNLOADS_PORTAL_THEME_DIR", str(theme))
    serve(fixtures.EXAMPLE_ORDER)
    assert "Acme Audio" in create_app(config).test_client().get(URL).text


def test_missing_theme_folder_fails_at_start(config, tmp_path) -> None:
    with pytest.raises(RuntimeError, match="THEME_DIR"):
        create_app({**config, "THEME_DIR": str(tmp_path / "nowhere")})


def test_example_theme_in_the_repository(config, serve) -> None:
    serve(fixtures.EXAMPLE_ORDER)
    client = create_app({**config, "THEME_DIR": str(EXAMPLE_THEME)}).test_client()
    html = client.get(URL).text
    assert "Northwind Sounds" in html
    with client.get("/static/theme.css") as css:
        assert "--portal-brand" in css.text

"""The error pages: one look for every failure, and no traceback for the customer."""

from __future__ import annotations

import logging

import pytest

from .conftest import TOKEN, text_of

URL = f"/account/orders/{TOKEN}"


@pytest.mark.parametrize(
    ("status", "heading"),
    [
        (404, "We couldn't find that order"),
        (402, "Downloads aren't available here yet"),
        (500, "Downloads are temporarily unavailable"),
        (503, "Downloads are temporarily unavailable"),
    ],
)
def test_upstream_statuses(client, serve, status, heading) -> None:
    serve(status=status)
    response = client.get(URL)
    assert response.status_code == {500: 503}.get(status, status)
    assert heading in text_of(response.text)
    assert response.text.startswith("<!doctype html>")
    assert "Traceback" not in response.text


def test_upgrade_page_speaks_to_customer_and_owner(client, serve) -> None:
    serve(status=402)
    words = text_of(client.get(URL).text)
    assert "contact the store" in words
    assert "Premium plan" in words


def test_unavailable_says_when_to_retry(client, serve) -> None:
    serve(status=503)
    response = client.get(URL)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"


def test_unknown_url_has_the_same_look(client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.text
    assert "/static/portal.css" in response.text


def test_wrong_method_has_a_page(client) -> None:
    response = client.post(URL)
    assert response.status_code == 405
    assert "Method Not Allowed" in response.text
    assert "GET" in response.headers["Allow"]


def test_unexpected_error_is_a_500_page(app, client, monkeypatch, caplog) -> None:
    def explode(token: str):
        raise RuntimeError(f"secret detail for /account/orders/{token}")

    monkeypatch.setattr(app.extensions["order_store"], "get", explode)
    response = client.get(URL)
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert "secret detail" not in response.text
    assert "Traceback" not in response.text
    # Logged once, with its traceback, and with the token redacted everywhere.
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is not None
    assert "secret detail" in caplog.text and "RuntimeError" in caplog.text
    assert TOKEN not in caplog.text

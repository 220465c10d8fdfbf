"""Tests for downloads-portal."""

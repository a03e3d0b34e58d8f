"""Placeholder: filled in by issue 12."""

from __future__ import annotations

from certify_tui.cli.parser import Subcommands


def register_import(sub: Subcommands) -> None:
    """Register `certify-tui import ...` for this source."""


def register_export(sub: Subcommands) -> None:
    """Register `certify-tui export ...` for this target."""

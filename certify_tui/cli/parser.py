"""The argument parser every command registers with (one readable line on a usage error)."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn, TypeAlias

from certify_tui.errors import safe_text

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse's own usage errors already exit 2; keep them to one readable line plus usage.
        self.print_usage(sys.stderr)
        print(f"certify-tui: error: {safe_text(message)}", file=sys.stderr)  # it quotes the arguments
        raise SystemExit(EXIT_USAGE)


# What `register(sub)` receives: the top-level parser's sub-commands, each a Parser.
Subcommands: TypeAlias = "argparse._SubParsersAction[Parser]"

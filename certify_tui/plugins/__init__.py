"""Plug-ins: the contract (base.py) and the registry that finds them through entry points (registry.py).

The registry is imported where plug-ins are looked up (challenges, deploy.tasks), not here: importing
the contract stays cheap.
"""

from certify_tui.plugins.base import (
    PARAM_TYPES,
    SECRET_MASK,
    Param,
    Plugin,
    StepLogger,
    parse_option_pairs,
)

__all__ = ["PARAM_TYPES", "SECRET_MASK", "Param", "Plugin", "StepLogger", "parse_option_pairs"]

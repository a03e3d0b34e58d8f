"""The certificate editor: the screen and one widget per step (see screen.py)."""

from certify_tui.tui.screens.editor.screen import CertificateEditorScreen
from certify_tui.tui.screens.editor.validation import RuleList

__all__ = ["CertificateEditorScreen", "RuleList"]

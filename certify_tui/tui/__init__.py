"""The Textual face. It calls `certify_tui.lifecycle.Core` only."""

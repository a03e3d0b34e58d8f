"""The command line: the same use cases as the TUI, for scripts (`--json`, exit codes 0/1/2)."""

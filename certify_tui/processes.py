"""Is a process still running? For leases and shared listeners left behind by a crashed process."""

from __future__ import annotations

import os

from certify_tui.paths import IS_WINDOWS


def pid_alive(pid: int) -> bool:
    if IS_WINDOWS:  # no signal 0 on Windows: ask the kernel for a handle instead
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # type: ignore[attr-defined]
        if handle:
            ctypes.windll.kernel32.CloseHandle(handle)  # type: ignore[attr-defined]
            return True
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

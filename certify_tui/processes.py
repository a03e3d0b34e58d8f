"""Is a process still running? For leases and shared listeners left behind by a crashed process."""

from __future__ import annotations

import os
import sys


def pid_alive(pid: int) -> bool:
    # sys.platform, not paths.IS_WINDOWS: the real OS decides whether ctypes.windll exists (mypy reads it too)
    if sys.platform == "win32":  # no signal 0 on Windows: ask the kernel for a handle instead
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)
        if handle:
            ctypes.windll.kernel32.CloseHandle(handle)
            return True
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True

"""What this CPU is and can do fast; shared by the models (default dtypes), `dangtopic.inference.speed` and
`dangtopic benchmark`."""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(errors="ignore")
    except OSError:
        return ""


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AMX or AVX512-BF16), from /proc/cpuinfo."""
    flags = _cpuinfo()
    return "amx_bf16" in flags or "avx512_bf16" in flags


def cpu_name() -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


__all__ = ["cpu_name", "native_bf16"]

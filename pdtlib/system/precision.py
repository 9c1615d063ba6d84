"""Numeric precision of training and inference: `auto`, `fp32` or `bf16`, and the machine facts
that decide `auto` and that a run records beside its results.

`auto` is bf16 autocast where the hardware has a native bf16 path: CUDA, and CPUs whose oneDNN
build reports native bf16 (`torch.ops.mkldnn._is_mkldnn_bf16_supported()`: AVX512-BF16 or AMX);
fp32 elsewhere, where emulated bf16 would be slower than fp32. Under autocast the convolutions
and linear layers run in bf16; what torch keeps in fp32 under autocast stays there, and the
project casts back to fp32 before every statistic: pooling statistics (models.AudioEncoder),
losses (losses.pdt_loss takes `.float()` inputs), batch-norm recalibration and evaluation
outputs (`.float()`). The weights and the optimiser state stay fp32 (mixed precision, not a
bf16 model), so a checkpoint's weights can be read in either precision; resuming one in the
other is refused by the checkpointer unless the caller starts afresh with a note.
"""

from __future__ import annotations

import contextlib
import functools
import os
import platform
from pathlib import Path

PRECISIONS = ("auto", "fp32", "bf16")
# The ISA flags that decide how fast training runs (cpuinfo names): what a run records.
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_fp16")


def check(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {PRECISIONS}")
    return precision


@functools.lru_cache(maxsize=None)
def native_bf16_cpu() -> bool:
    """Whether this CPU runs bf16 natively (oneDNN's own test: AVX512-BF16 / AMX)."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve(precision: str, device) -> str:
    """`auto` -> `bf16` on CUDA and on CPUs with native bf16, else `fp32`; the others as they are."""
    if check(precision) != "auto":
        return precision
    kind = getattr(device, "type", str(device))
    return "bf16" if kind == "cuda" or (kind == "cpu" and native_bf16_cpu()) else "fp32"


def autocast(device, precision: str):
    """The autocast context of a resolved precision on `device` (nothing for fp32)."""
    import torch

    if resolve(precision, device) == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(getattr(device, "type", str(device)), dtype=torch.bfloat16)


@functools.lru_cache(maxsize=None)
def cpu_description() -> dict:
    """The CPU model, its logical cores, its clock and the ISA flags above that it has (Linux:
    /proc/cpuinfo; elsewhere what `platform` knows)."""
    info = {"model": platform.processor() or platform.machine(), "cores": os.cpu_count(), "flags": []}
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        fields = {}
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() not in fields:
                fields[key.strip()] = value.strip()
        flags = set(fields.get("flags", "").split())
        info.update(model=fields.get("model name", info["model"]), flags=[f for f in ISA_FLAGS if f in flags])
        if fields.get("cpu MHz"):
            info["mhz"] = float(fields["cpu MHz"])
    return info

"""Training speed of the encoder, fp32 against bf16: utterances per second and achieved GFLOP/s
against the machine's peak.

    .venv/bin/python benchmarks/train_throughput.py [--device auto|cpu|cuda] [--batch 32] [--steps 5]
        [--warmup 3] [--frames 400] [--channels 32,64,128,128,128 16,32,64,128,128]
        [--precisions fp32 bf16] [--models pdt classifier] [--pdt-modes in-batch [sampled]]
        [--cuda-batch 256] [--compile] [--threads N]

What is timed: the real training step, pdtlib.training.train's `Trainer.fit_batch` (the batch gathered from
the float16 feature array, forward, loss, backward, Adam), of PDTTrainer (`in-batch`, the report's
default: B utterances encoded, all B(B-1)/2 pairs scored, eq. 1 loss; `sampled`, the paper's, on
request: 2B utterances for B pairs) and of ClassifierTrainer (B utterances, cross entropy), on
random 257 x T float16 spectrograms, for each encoder width and precision (`fp32`; `bf16`: the
autocast of pdtlib.system.precision, weights and Adam fp32). The first step is timed on its own (one-off
costs: oneDNN primitives, cuDNN autotuning, compilation), then come `--warmup` - 1 untimed steps,
then `--steps` timed ones. CPU steps run under deterministic algorithms, as Trainer.fit runs them,
on as many threads as the CPU has cores unless --threads. CUDA (--device auto where present, or
cuda): the same table, plus the in-batch PDT at --cuda-batch, since batch 32 leaves a large GPU
mostly idle.

--compile times each setting again with the encoder compiled by torch.compile (nn.Module.compile,
inductor; its backward through AOTAutograd; the discriminator, loss and Adam stay eager), with
inductor's on-disk caches off so that the first step pays the cold compile a first `make report`
pays, and says after how many steps compiling pays against the steps of a default-report run.

Achieved GFLOP/s = 3 x forward FLOPs per utterance x utterances per second. pdtlib.models.flops
counts the conv and linear layers only, a multiply-add as 2 FLOPs (batch norm, ReLU, pooling and
biases left out); backward is taken as twice the forward (input and weight gradients), which also
counts the first convolution's input gradient that autograd never computes (3% of a half-width
step, 2% of a full-width one); the discriminator (under 1%) is left out.

Peak = cores x clock x FLOP per cycle per core for the ISA the precision runs on:
    fp32, AVX-512:   2 FMA units x 16 lanes x 2 = 64 (2 units assumed: Xeon Gold 6000 / Platinum and
                     later server parts; 1-unit parts reach 32)
    fp32, AVX2:      2 FMA units x 8 lanes x 2 = 32
    bf16, AMX:       1024 (Intel's figure for the AMX-BF16 tile multiply, flag amx_bf16)
    bf16, AVX512-BF16 without AMX: 2 units x 32 bf16 x 2 = 128 (vdpbf16ps, 2 units assumed)
    bf16 on a CPU without native bf16 (pdtlib.system.precision.native_bf16_cpu): oneDNN converts to fp32,
                     so the fp32 peak.
cores: physical cores (lscpu sockets x cores per socket: SMT siblings share one core's FMA units),
at most the threads used; clock: /proc/cpuinfo "cpu MHz" (the clock when read: the base clock on
most VMs, the moment's clock on a host with frequency scaling), else lscpu "CPU max MHz".
CUDA: SMs x get_device_properties().clock_rate (the maximum SM clock) x dense FLOP per cycle per SM,
known here for sm_80 (A100) and sm_90 (H100, H200): bf16 tensor cores 2048 / 4096, tf32 1024 / 2048
(what "fp32" convolutions run on while torch.backends.cudnn.allow_tf32, torch's default), fp32
cores 128 / 256; left blank for other GPUs.

The last line is the bf16/fp32 speed-up of the default report's step (half-width encoder,
in-batch PDT, eager) on the CPU.
"""

import argparse
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import torch

from pdtlib import EMOTIONS
from pdtlib.training.checkpoints import deterministic
from pdtlib.features import FeatureConfig, FeatureSet
from pdtlib.models import EncoderConfig, flops
from pdtlib.pairs import pairs_per_batch
from pdtlib.system.precision import cpu_description, native_bf16_cpu
from pdtlib.training.configs import MAX_PASSES, ClassifierConfig, PDTConfig
from pdtlib.training.train import ClassifierTrainer, PDTTrainer

HALF = "16,32,64,128,128"  # params/default.yaml encoder_channels: the report's default encoder
# Encoder passes one method trains in the default report, about: half its cap in encoder passes
# (MAX_PASSES, params/default.yaml max_passes) before validation stops it (reports/default/table3.md:
# the PDT trained 20,000, the traditional rows 8,000-9,600).
REPORT_PASSES = MAX_PASSES // 2
# Dense FLOP per cycle per SM by compute capability: bf16 and tf32 tensor cores, fp32 cores
# (A100: 312 / 156 / 19.5 TFLOP/s at 1410 MHz; H100 SXM: 989 / 495 at 1830 MHz, 67 at 1980 MHz).
SM_FLOP_PER_CYCLE = {(8, 0): {"bf16": 2048, "tf32": 1024, "fp32": 128},
                     (9, 0): {"bf16": 4096, "tf32": 2048, "fp32": 256}}


def random_features(n: int, frames: int) -> FeatureSet:
    """n random float16 spectrograms; row i is class i % 4; rows come in runs of four and one run
    in eight is in the val split, so that it holds every class (PDTTrainer draws pairs from it)."""
    features = np.random.default_rng(0).normal(-5, 3, (n, 257, frames)).astype(np.float16)
    table = pd.DataFrame({"utterance_id": [f"u{i}" for i in range(n)], "path": "", "speaker": "s", "session": 1,
                          "gender": "", "duration_s": frames / 100,
                          "label": [EMOTIONS[i % 4] for i in range(n)],
                          "split": ["val" if (i // 4) % 8 == 7 else "train" for i in range(n)]})
    return FeatureSet(features, table, FeatureConfig(duration=frames / 100))


def lscpu() -> dict:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {key.strip(): value.strip() for key, _, value in (line.partition(":") for line in out.splitlines())}


def cpu_peak(precision: str, threads: int) -> tuple[float | None, str]:
    """(peak GFLOP/s or None, how it was worked out) of this CPU for `precision` on `threads` threads."""
    info, fields = cpu_description(), lscpu()
    flags = set(info["flags"])
    if precision == "bf16" and native_bf16_cpu():
        per, isa = ((1024, "AMX-BF16 tile multiply, Intel's figure") if "amx_bf16" in flags else
                    (128, "AVX512-BF16 vdpbf16ps: 2 FMA units assumed x 32 bf16 x 2"))
    else:
        emulated = "bf16 not native, computed in fp32: " if precision == "bf16" else ""
        if "avx512f" in flags:
            per, isa = 64, emulated + "fp32 AVX-512: 2 FMA units assumed x 16 lanes x 2"
        elif "avx2" in flags and "fma" in flags:
            per, isa = 32, emulated + "fp32 AVX2: 2 FMA units x 8 lanes x 2"
        else:
            return None, f"{precision}: no AVX2 or AVX-512 FMA, peak not worked out"
    try:
        physical = int(fields["Socket(s)"]) * int(fields["Core(s) per socket"])
    except (KeyError, ValueError):
        physical = info["cores"]
    cores = min(threads, physical)
    if info.get("mhz"):
        mhz, source = info["mhz"], "/proc/cpuinfo cpu MHz"
    elif fields.get("CPU max MHz"):
        mhz, source = float(fields["CPU max MHz"]), "lscpu CPU max MHz"
    else:
        return None, f"{precision}: clock unknown ({isa})"
    peak = cores * mhz * 1e6 * per / 1e9
    return peak, (f"{precision}: {cores} cores x {mhz:.0f} MHz ({source}) x {per} FLOP/cycle/core ({isa}) "
                  f"= {peak:,.0f} GFLOP/s")


def cuda_peak(precision: str, device: torch.device) -> tuple[float | None, str]:
    """(peak GFLOP/s or None, how it was worked out, or why not) of this GPU for `precision`."""
    p = torch.cuda.get_device_properties(device)
    kind = "bf16" if precision == "bf16" else "tf32" if torch.backends.cudnn.allow_tf32 else "fp32"
    per_sm = SM_FLOP_PER_CYCLE.get((p.major, p.minor), {}).get(kind)
    khz = getattr(p, "clock_rate", 0)  # kHz; older torch versions do not expose it
    if per_sm is None:
        return None, f"{precision}: blank, {kind} FLOP/cycle/SM of sm_{p.major}{p.minor} not in SM_FLOP_PER_CYCLE"
    if not khz:
        return None, f"{precision}: blank, this torch gives no SM clock (get_device_properties().clock_rate)"
    peak = p.multi_processor_count * khz * 1e3 * per_sm / 1e9
    return peak, (f"{precision}: {p.multi_processor_count} SMs x {khz / 1e3:.0f} MHz (clock_rate) x {per_sm} "
                  f"{kind} FLOP/cycle/SM = {peak:,.0f} GFLOP/s")


def make_trainer(features: FeatureSet, model: str, encoder: EncoderConfig, batch: int, precision: str,
                 device: torch.device):
    with tempfile.TemporaryDirectory() as run_dir:  # the checkpoint folder: nothing is written before fit()
        if model == "classifier":
            return ClassifierTrainer(features, ClassifierConfig(encoder=encoder, batch_size=batch,
                                                                precision=precision), run_dir, device)
        return PDTTrainer(features, PDTConfig(encoder=encoder, mode=model.split()[1], batch_size=batch,
                                              eval_pairs=100, precision=precision), run_dir, device)


def time_steps(trainer, device: torch.device, warmup: int, steps: int) -> tuple[float, float]:
    """(seconds of the first step, seconds per step over `steps` after `warmup` steps, the first included)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with deterministic(device.type == "cpu"):
        start = time.perf_counter()
        trainer.fit_batch(0)
        sync()
        first = time.perf_counter() - start
        for k in range(1, warmup):
            trainer.fit_batch(k)
        sync()
        start = time.perf_counter()
        for k in range(warmup, warmup + steps):
            trainer.fit_batch(k)
        sync()
    return first, (time.perf_counter() - start) / steps


def run_setting(features, model, channels, batch, precision, compiled, device, args) -> dict:
    encoder = EncoderConfig(channels=tuple(int(c) for c in channels.split(",")))
    row = {"device": device.type, "model": model, "channels": channels, "batch": batch, "precision": precision,
           "step": "compiled" if compiled else "eager"}
    trainer = make_trainer(features, model, encoder, batch, precision, device)
    if compiled:
        torch._dynamo.reset()  # each setting compiles from nothing, and stays under dynamo's recompile limit
        trainer.model.encoder.compile()
    try:
        first, per_step = time_steps(trainer, device, args.warmup, args.steps)
    except Exception as error:  # inductor needs a working C++ (CPU) or triton (CUDA) toolchain
        if not compiled:
            raise
        first_line = str(error).strip().partition("\n")[0]
        return {**row, "failed": f"{type(error).__name__}: {first_line[:200]}"}
    utterances = 2 * batch if model == "pdt sampled" else batch
    gflops = 3 * flops(encoder, args.frames) * utterances / per_step / 1e9
    return {**row, "first_s": first, "step_ms": 1e3 * per_step, "utt_s": utterances / per_step,
            "pairs_s": pairs_per_batch(model.split()[1], batch) / per_step if model != "classifier" else None,
            "gflop_s": gflops, "utt_per_step": utterances}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="auto = cpu and, where present, cuda")
    parser.add_argument("--batch", type=int, default=32, help="utterances (in-batch, classifier) or pairs (sampled)")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per setting")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps before them, the first included (>= 1)")
    parser.add_argument("--frames", type=int, default=400, help="input frames (400 = 4 s)")
    parser.add_argument("--channels", nargs="+", default=["32,64,128,128,128", HALF],
                        help="encoder widths (default: the paper reading and the report's half width)")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=("fp32", "bf16"))
    parser.add_argument("--models", nargs="+", default=["pdt", "classifier"], choices=("pdt", "classifier"))
    parser.add_argument("--pdt-modes", nargs="+", default=["in-batch"], choices=("in-batch", "sampled"))
    parser.add_argument("--cuda-batch", type=int, default=256, help="in-batch PDT batch also timed on CUDA (0: none)")
    parser.add_argument("--compile", action="store_true", help="also time the encoder under torch.compile")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: the CPU's cores)")
    args = parser.parse_args()
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1")
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    cpu = cpu_description()
    torch.set_num_threads(args.threads or cpu["cores"])
    if args.compile:
        from torch._inductor import config as inductor

        inductor.force_disable_caches = True  # the cold compile, as a first report run pays it

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.device == "auto" else [args.device]
    models = [f"pdt {mode}" for mode in args.pdt_modes if "pdt" in args.models] + \
             (["classifier"] if "classifier" in args.models else [])
    print(f"torch {torch.__version__}; CPU {cpu['model']}, {cpu['cores']} logical CPUs, "
          f"flags {' '.join(cpu['flags'])}, {torch.get_num_threads()} threads; input 257 x {args.frames}; "
          f"first step, {args.warmup - 1} more warm-up, {args.steps} timed")
    for channels in args.channels:
        encoder = EncoderConfig(channels=tuple(int(c) for c in channels.split(",")))
        print(f"encoder {channels}: {flops(encoder, args.frames) / 1e9:.3f} GFLOP forward per utterance "
              f"(conv + linear, multiply-add = 2), 3x that per training pass")

    rows, peaks = [], {}
    for name in devices:
        device = torch.device(name)
        for precision in args.precisions:
            peaks[name, precision] = (cpu_peak(precision, torch.get_num_threads()) if name == "cpu" else
                                      cuda_peak(precision, device))
        settings = [(args.batch, models)]
        if name == "cuda" and args.cuda_batch and args.cuda_batch != args.batch and "pdt in-batch" in models:
            settings.append((args.cuda_batch, ["pdt in-batch"]))
        for batch, batch_models in settings:
            features = random_features(max(4 * batch, 256), args.frames)
            for channels in args.channels:
                for model in batch_models:
                    for precision in args.precisions:
                        for compiled in (False, True) if args.compile else (False,):
                            row = run_setting(features, model, channels, batch, precision, compiled, device, args)
                            print(f"  timed {name} {model} {channels} batch {batch} {precision} {row['step']}: "
                                  + (row["failed"] if "failed" in row else f"{row['utt_s']:.1f} utt/s"),
                                  file=sys.stderr, flush=True)
                            rows.append({**row, "peak_gflop_s": peaks[name, precision][0]})

    table = pd.DataFrame(rows)
    numbers = ["first_s", "step_ms", "utt_s", "pairs_s", "gflop_s", "peak_gflop_s"]
    table[numbers] = table.reindex(columns=numbers).apply(pd.to_numeric)  # None (no pairs, no peak, failed) -> NaN
    table["pct_peak"] = 100 * table["gflop_s"] / table["peak_gflop_s"]
    print("\npeaks:")
    for (name, _), (_, how) in peaks.items():
        print(f"  {name} {how}")
    shown = table[["device", "model", "channels", "batch", "precision", "step", *numbers, "pct_peak"]]
    shown = shown.astype(object).where(shown.notna(), "").rename(columns={
        "first_s": "first step s", "step_ms": "step ms", "utt_s": "utt/s", "pairs_s": "pairs/s", "gflop_s": "GFLOP/s",
        "peak_gflop_s": "peak GFLOP/s", "pct_peak": "% of peak"})
    print("\n" + shown.to_markdown(index=False, floatfmt=",.1f"))

    key = ["device", "model", "channels", "batch", "step"]
    done = table[table["utt_s"].notna()]
    if set(args.precisions) == {"fp32", "bf16"}:
        print("\nbf16/fp32 utterances per second:")
        for (name, model, channels, batch, step), group in done.groupby(key, sort=False):
            speed = group.set_index("precision")["utt_s"]
            if len(speed) == 2:
                print(f"  {name} {model} {channels} batch {batch} {step}: {speed['bf16'] / speed['fp32']:.2f}×")
    if args.compile:
        print(f"\ntorch.compile of the encoder against eager (a default-report method trains about "
              f"{REPORT_PASSES:,} encoder passes):")
        eager = done.set_index(key + ["precision"])
        for row in table[table["step"] == "compiled"].itertuples():
            label = f"  {row.device} {row.model} {row.channels} batch {row.batch} {row.precision}"
            if np.isnan(row.utt_s):
                print(f"{label}: compile failed, {row.failed}")
                continue
            e = eager.loc[(row.device, row.model, row.channels, row.batch, "eager", row.precision)]
            saved_s = (e.step_ms - row.step_ms) / 1e3
            verdict = (f"pays after {(row.first_s - e.first_s) / saved_s:,.0f} steps (a report run: "
                       f"{REPORT_PASSES / row.utt_per_step:,.0f})" if saved_s > 0 else
                       "never pays: no faster than eager")
            print(f"{label}: first step {row.first_s:.1f} s (eager {e.first_s:.1f} s), "
                  f"{row.step_ms:.0f} ms a step (eager {e.step_ms:.0f} ms): {verdict}")

    default = done[(done["device"] == "cpu") & (done["model"] == "pdt in-batch") & (done["channels"] == HALF)
                   & (done["step"] == "eager")].set_index("precision")["utt_s"]
    if {"fp32", "bf16"} <= set(default.index):
        print(f"bf16/fp32 training speed-up: {default['bf16'] / default['fp32']:.2f}× ({cpu['model']})")
    else:
        print(f"bf16/fp32 training speed-up: n/a, the CPU in-batch PDT step of encoder {HALF} was not timed "
              f"in both precisions ({cpu['model']})")


if __name__ == "__main__":
    main()

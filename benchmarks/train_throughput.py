"""PDT training speed: encoder utterances and pairs per second, `sampled` against `in-batch`.

    .venv/bin/python benchmarks/train_throughput.py [--device auto] [--batch 32] [--steps 5]
                                                    [--channels 32,64,128,128,128 16,32,64,128,128]
                                                    [--cuda-batch 256] [--threads N]

Times the real training step (pdtlib.train.PDTTrainer.fit_batch: forward, eq. 1 loss, backward, Adam)
on random 257 x 400 float16 spectrograms, after 2 warm-up steps. `sampled` (paper) encodes
2 utterances per pair, B pairs per step; `in-batch` encodes B utterances and scores their
B(B-1)/2 pairs. Devices: CPU always, CUDA where present (bf16 autocast, channels_last, the
features held on the GPU), where a larger in-batch batch (--cuda-batch) is timed as well.
Targets (issue 4): in-batch >= 15x the pairs per second of sampled on CPU; >= 20,000 encoder
utterances per second in training on an H200.
"""

import argparse
import time

import tempfile

import numpy as np
import pandas as pd
import torch

from pdtlib import EMOTIONS
from pdtlib.features import FeatureConfig, FeatureSet
from pdtlib.models import EncoderConfig, flops
from pdtlib.pairs import pairs_per_batch
from pdtlib.train import PDTConfig, PDTTrainer


def random_features(n: int, frames: int) -> FeatureSet:
    """n random float16 spectrograms, 4 balanced classes, one in eight rows in the val split."""
    features = np.random.default_rng(0).normal(-5, 3, (n, 257, frames)).astype(np.float16)
    table = pd.DataFrame({"utterance_id": [f"u{i}" for i in range(n)], "path": "", "speaker": "s", "session": 1,
                          "gender": "", "duration_s": frames / 100,
                          "label": [EMOTIONS[i % 4] for i in range(n)],
                          "split": ["val" if i % 8 == 7 else "train" for i in range(n)]})
    return FeatureSet(features, table, FeatureConfig(duration=frames / 100))


def time_steps(mode: str, encoder: EncoderConfig, batch: int, steps: int, frames: int, device: torch.device) -> dict:
    config = PDTConfig(encoder=encoder, mode=mode, batch_size=batch, eval_pairs=100)
    features = random_features(max(4 * batch, 256), frames)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = PDTTrainer(features, config, run_dir, device)
    step = trainer.fit_batch
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for k in range(2):
        step(k)
    sync()
    start = time.perf_counter()
    for k in range(2, 2 + steps):
        step(k)
    sync()
    seconds = time.perf_counter() - start
    utterances = (2 * batch if mode == "sampled" else batch) * steps
    return {"utt_s": utterances / seconds, "pairs_s": pairs_per_batch(mode, batch) * steps / seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto = cpu and, where present, cuda")
    parser.add_argument("--batch", type=int, default=32, help="pairs (sampled) / utterances (in-batch) per step")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per setting (after 2 warm-up steps)")
    parser.add_argument("--frames", type=int, default=400, help="input frames (400 = 4 s)")
    parser.add_argument("--channels", nargs="+", default=["32,64,128,128,128", "16,32,64,128,128"],
                        help="encoder channel settings to time (default: the paper reading and half width)")
    parser.add_argument("--cuda-batch", type=int, default=256, help="extra in-batch batch size timed on CUDA")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.device == "auto" else [args.device]
    for name in devices:
        device = torch.device(name)
        label = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{torch.get_num_threads()} threads"
        print(f"== {name} ({label}), torch {torch.__version__}, {args.frames} frames, {args.steps} timed steps")
        for channels in args.channels:
            encoder = EncoderConfig(channels=tuple(int(c) for c in channels.split(",")))
            print(f"encoder channels {encoder.channels}: {flops(encoder, args.frames) / 1e9:.2f} GFLOP per utterance")
            runs = {mode: time_steps(mode, encoder, args.batch, args.steps, args.frames, device)
                    for mode in ("sampled", "in-batch")}
            for mode, r in runs.items():
                print(f"  {mode:9s} batch {args.batch:4d}: {r['utt_s']:9.1f} encoder utt/s  "
                      f"{r['pairs_s']:11.1f} pairs/s")
            ratio = runs["in-batch"]["pairs_s"] / runs["sampled"]["pairs_s"]
            print(f"  in-batch / sampled: pairs/s {ratio:.1f}x (target >= 15x on CPU), "
                  f"utt/s {runs['in-batch']['utt_s'] / runs['sampled']['utt_s']:.2f}x")
            if device.type == "cuda" and args.cuda_batch != args.batch:
                r = time_steps("in-batch", encoder, args.cuda_batch, args.steps * 4, args.frames, device)
                print(f"  in-batch  batch {args.cuda_batch:4d}: {r['utt_s']:9.1f} encoder utt/s  {r['pairs_s']:11.1f} "
                      f"pairs/s (target >= 20,000 utt/s on an H200)")


if __name__ == "__main__":
    main()

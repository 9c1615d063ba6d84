"""Featurisation speed: `log_spectrogram` (torch, batched) against librosa, same spectrogram.

    .venv/bin/python benchmarks/features.py [--n 512] [--batch 32] [--device cpu]

Prints utterances per second for each and their ratio. Target (issue 2): at least 3x
librosa on a 2-core CPU. Both compute the log power of a 20 ms Hamming / 10 ms hop /
512-point STFT with reflect padding, first 400 frames of a 4 s utterance; the script
first checks that they agree.
"""

import argparse
import time

import numpy as np
import torch

from pdtlib.features import FeatureConfig, log_spectrogram


def librosa_log_spectrogram(wave: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    import librosa

    spec = librosa.stft(wave, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                        window="hamming", center=True, pad_mode="reflect")
    return np.log(np.maximum(np.abs(spec) ** 2, cfg.log_floor))[:, : cfg.n_frames]


def best_of(fn, repeats=3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512, help="utterances (default 512)")
    parser.add_argument("--batch", type=int, default=32, help="batch size for log_spectrogram (default 32, as the feature cache uses)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    args = parser.parse_args()

    cfg = FeatureConfig()
    rng = np.random.default_rng(0)
    waves = rng.standard_normal((args.n, cfg.n_samples)).astype(np.float32) * 0.1
    batches = torch.from_numpy(waves).to(args.device).split(args.batch)

    ours = log_spectrogram(torch.from_numpy(waves[:2]).to(args.device), config=cfg).cpu().numpy()
    theirs = np.stack([librosa_log_spectrogram(w, cfg) for w in waves[:2]])
    assert np.abs(ours - theirs).max() < 1e-2, "the two implementations disagree"

    def run_torch():
        for b in batches:
            log_spectrogram(b, config=cfg)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    def run_librosa():
        for w in waves:
            librosa_log_spectrogram(w, cfg)

    run_torch(), run_librosa()  # warm-up (FFT plans, numba)
    t_torch, t_librosa = best_of(run_torch), best_of(run_librosa)
    ups_torch, ups_librosa = args.n / t_torch, args.n / t_librosa
    print(f"utterances: {args.n} x 4 s, torch threads: {torch.get_num_threads()}, device: {args.device}")
    print(f"log_spectrogram (torch, batch {args.batch}): {ups_torch:9.1f} utt/s")
    print(f"librosa (one by one):               {ups_librosa:9.1f} utt/s")
    print(f"ratio: {ups_torch / ups_librosa:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()

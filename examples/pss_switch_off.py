"""Parameter-space saliency on the digits CNN: the paper's switch-off experiment, measured.

Levin et al. (NeurIPS 2022), Sec. 3: zeroing the most salient filters of a misclassified sample
raises its true-class probability more than zeroing as many random filters. This script trains the
small digits CNN, computes the validation statistics, compares the profiles of misclassified and
correctly classified samples, runs the experiment for several k, and optionally writes the
profile and input-space saliency figures of a misclassified sample.

Run: `python examples/pss_switch_off.py [--epochs 15] [--seeds 0 1 2] [--figures out/]`.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")

import argparse

import numpy as np

from vis.pss import ParameterSaliency, plot_input_saliency, plot_profile, switch_off_experiment
from vis.utils.digits import train_digits_cnn


def run(seed: int, epochs: int, ks: list[int], n_random: int, figures: str | None) -> None:
    model, _, (x_val, y_val) = train_digits_cnn(epochs=epochs, seed=seed)
    psal = ParameterSaliency(model).fit(x_val, y_val, batch_size=128, verbose=False)
    predicted = model.predict(x_val, verbose=0).argmax(axis=1)
    wrong = predicted != y_val
    mean_profile = psal.profile(x_val, y_val).mean(axis=1)
    print(f"\nseed {seed}: accuracy {1 - wrong.mean():.3f}, {wrong.sum()} of {len(y_val)} "
          f"validation samples misclassified, {len(psal.filters)} filters")
    print(f"  mean profile: misclassified {mean_profile[wrong].mean():+.2f}, "
          f"correct {mean_profile[~wrong].mean():+.2f}")
    print(f"  {'k':>3} {'p(true) before':>15} {'top-k off':>10} {'random off':>11} "
          f"{'gain top':>9} {'gain random':>12} {'fixed top':>10} {'fixed random':>13}")
    for k in ks:
        r = switch_off_experiment(model, psal, x_val, y_val, k=k, n_random=n_random, seed=seed)
        print(f"  {k:>3} {r.p_before.mean():>15.4f} {r.p_top.mean():>10.4f} "
              f"{r.p_random.mean():>11.4f} {r.gain_top:>+9.4f} {r.gain_random:>+12.4f} "
              f"{r.fixed_top.mean():>10.1%} {r.fixed_random.mean():>13.1%}")
    if figures and wrong.any():
        os.makedirs(figures, exist_ok=True)
        i = int(np.flatnonzero(wrong)[0])
        sample, label = x_val[i:i + 1], y_val[i:i + 1]
        title = f"true {label[0]}, predicted {predicted[i]}"
        plot_profile(psal.profile(sample, label)[0], psal.filters, title=title).savefig(
            os.path.join(figures, f"pss_profile_seed{seed}.png"), dpi=120)
        plot_input_saliency(sample[0], psal.input_saliency(sample, label)[0], title=title).savefig(
            os.path.join(figures, f"pss_input_saliency_seed{seed}.png"), dpi=120)
        print(f"  figures written to {figures}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 3, 5, 10])
    parser.add_argument("--n-random", type=int, default=20)
    parser.add_argument("--figures", default=None, help="folder for the PNG figures")
    args = parser.parse_args()
    for seed in args.seeds:
        run(seed, args.epochs, args.ks, args.n_random, args.figures)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Plots a `cook train` metrics.jsonl: training loss and validation loss per step, with the
unigram baseline (`cook data info DIR --unigram`) as a reference line.

  /usr/bin/python3 scripts/plot_training.py RUN/metrics.jsonl OUT.png [--baseline LOSS] [--title T]

Needs matplotlib (Debian: python3-matplotlib); it is a documentation tool, not part of Cook.
"""
import argparse
import json
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metrics", help="metrics.jsonl written by cook train")
    parser.add_argument("output", help="PNG file to write")
    parser.add_argument("--baseline", type=float, help="validation loss of the unigram baseline, in nats")
    parser.add_argument("--title", default="cook train: small on SOTU")
    args = parser.parse_args()
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_training.py: matplotlib is missing (apt-get install python3-matplotlib)")

    train, valid = [], []
    with open(args.metrics) as f:
        for number, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                sys.exit(f"{args.metrics}:{number}: not JSON ({e})")
            if "eval_loss" in r:
                valid.append((r["step"], r["eval_loss"]))
            elif "loss" in r and not r.get("skipped"):
                train.append((r["step"], r["loss"]))
    if not train and not valid:
        sys.exit(f"{args.metrics}: no loss records")

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    if train:
        ax.plot(*zip(*train), label="training loss", color="#4c72b0", linewidth=1.2)
    if valid:
        ax.plot(*zip(*valid), "o-", label="validation loss", color="#dd8452", linewidth=1.5)
    if args.baseline is not None:
        ax.axhline(args.baseline, linestyle="--", color="gray", label=f"unigram baseline ({args.baseline:.2f})")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.set_title(args.title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

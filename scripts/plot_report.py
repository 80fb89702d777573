#!/usr/bin/env python3
"""Plots a `cook report` report.json: relative performance against speedup over the dense model,
and the size on disk and non-zero parameters of each model.

  /usr/bin/python3 scripts/plot_report.py REPORT.json OUT_DIR

Writes OUT_DIR/quality_vs_speedup.png (when speed was measured) and OUT_DIR/size.png, and prints
the path of each file it wrote, one a line (cook reads them). Needs matplotlib (Debian:
python3-matplotlib).
"""
import json
import os
import sys


def load(path):
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"{path}: {e}")
    if report.get("format") != "cook.report" or not report.get("rows"):
        sys.exit(f"{path}: not a cook report with rows")
    return report


def quality_vs_speedup(plt, rows, out_dir):
    """One marker per model and speed measurement: x = speedup over dense, y = relative performance."""
    series = {}  # label -> [(speedup, relative performance, model name)]
    for r in rows:
        speed = r.get("speed")
        if not speed:
            continue
        for d in speed["decode"]:
            if d.get("speedup") is not None:
                series.setdefault(f"decode, batch {d['batch']}", []).append((d["speedup"], r["relative_performance"], r["name"]))
        p = speed["prefill"]
        if p.get("speedup") is not None:
            series.setdefault(f"prefill {p['batch']}×{p['seq_len']}", []).append((p["speedup"], r["relative_performance"], r["name"]))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for (label, points), marker in zip(series.items(), "osD^v<>"):
        xs, ys, names = zip(*points)
        ax.scatter(xs, [100 * y for y in ys], marker=marker, label=label, alpha=0.8)
        if marker == "o":
            for x, y, name in points:
                ax.annotate(name, (x, 100 * y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ax.axvline(1.0, color="gray", linewidth=0.8, linestyle=":")
    ax.axhline(100.0, color="gray", linewidth=0.8, linestyle=":")
    ax.set_xlabel("speedup over the dense model (tokens/s ratio)")
    ax.set_ylabel("relative performance (dense loss / loss, %)")
    ax.set_title("Quality against speed")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = os.path.join(out_dir, "quality_vs_speedup.png")
    fig.savefig(path)
    plt.close(fig)
    return path


def size_bars(plt, rows, out_dir):
    names = [r["name"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 4), dpi=120)
    ax1.bar(names, [r["artefact_bytes"] / 1e6 for r in rows], color="#4c72b0")
    ax1.set_ylabel("size on disk (MB)")
    ax1.set_title("Artefact size")
    ax2.bar(names, [r["parameters"] / 1e6 for r in rows], color="#c0c0c0", label="parameters")
    ax2.bar(names, [r["nonzero_parameters"] / 1e6 for r in rows], color="#dd8452", label="non-zero")
    ax2.set_ylabel("millions")
    ax2.set_title("Parameters")
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", rotation=30, labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = os.path.join(out_dir, "size.png")
    fig.savefig(path)
    plt.close(fig)
    return path


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    report = load(sys.argv[1])
    out_dir = sys.argv[2]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        sys.exit("plot_report.py: matplotlib is missing (apt-get install python3-matplotlib)")
    os.makedirs(out_dir, exist_ok=True)
    for path in (quality_vs_speedup(plt, report["rows"], out_dir), size_bars(plt, report["rows"], out_dir)):
        if path:
            print(path)


if __name__ == "__main__":
    main()

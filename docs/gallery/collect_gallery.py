"""Copy the quickstart's figures into the README gallery (docs/gallery/).

Usage: python docs/gallery/collect_gallery.py runs/quickstart docs/gallery
(`make gallery` runs the quickstart first, then this.)
"""

import json
import shutil
import sys
from pathlib import Path


def main(runs: str, out: str) -> None:
    runs_dir, out_dir = Path(runs), Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    for result in sorted(runs_dir.glob("*/result.json")):
        method = json.loads(result.read_text())["method"]
        for fig in ("gap_before_after", "trajectory"):
            src = result.parent / "figures" / f"{fig}.png"
            if src.exists() and method == "dann":
                shutil.copyfile(src, out_dir / f"quickstart_{method}_{fig}.png")
    summary = runs_dir / "figures" / "ablation_method.png"
    if summary.exists():
        shutil.copyfile(summary, out_dir / "quickstart_methods.png")


if __name__ == "__main__":
    main(*sys.argv[1:3])

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
    # the newest completed DANN run: an output directory may also hold runs of an older
    # configuration or library version (another run id), which must not be copied
    dann = [(r.get("finished_at", 0.0), path) for path in runs_dir.glob("*/result.json")
            for r in [json.loads(path.read_text())]
            if r.get("method") == "dann" and r.get("status") == "completed"]
    if dann:
        run = max(dann)[1].parent
        for fig in ("gap_before_after", "trajectory"):
            src = run / "figures" / f"{fig}.png"
            if src.exists():
                shutil.copyfile(src, out_dir / f"quickstart_dann_{fig}.png")
    summary = runs_dir / "figures" / "ablation_method.png"
    if summary.exists():
        shutil.copyfile(summary, out_dir / "quickstart_methods.png")


if __name__ == "__main__":
    main(*sys.argv[1:3])

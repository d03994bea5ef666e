"""Generate the 8 TPC-H tables as Parquet with ``tpchgen-cli`` (``pip install
'glacier-pipelines[tpch]'``), into the bucket folder the pipelines read::

    python examples/tpch/generate.py --scale 0.01       # -> $GLACIER_BASE_PATH/tpch/*.parquet
    python examples/tpch/generate.py --scale 1 --out bench/data/sf1/tpch

Scale factor 1 is about 1 GB of TPC-H data (lineitem: 6,001,215 rows), about 10 s here.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tpch_polars import TABLES


class GeneratorMissing(RuntimeError):
    """``tpchgen-cli`` is not installed where this interpreter or PATH can find it."""


def tpchgen() -> str:
    """The ``tpchgen-cli`` executable: next to this interpreter (a venv), else on PATH."""
    beside = Path(sys.executable).with_name("tpchgen-cli")
    found = str(beside) if beside.exists() else shutil.which("tpchgen-cli")
    if found is None:
        raise GeneratorMissing(
            "tpchgen-cli is not installed. Install it with "
            "pip install 'glacier-pipelines[tpch]' (or pip install tpchgen-cli)."
        )
    return found


def default_folder() -> Path:
    return Path(os.environ.get("GLACIER_BASE_PATH", "./data")) / "tpch"


def generate(scale: float, folder: Path) -> list[Path]:
    """Write ``<folder>/<table>.parquet`` for every table at ``scale``, replacing old ones."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            tpchgen(),
            "parquet",
            "--scale-factor",
            str(scale),
            "--output-dir",
            str(folder),
            "--overwrite",
            "--quiet",
        ],
        check=True,
    )
    return [folder / f"{t}.parquet" for t in TABLES]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.01, help="TPC-H scale factor")
    parser.add_argument("--out", type=Path, default=None, help="default: $GLACIER_BASE_PATH/tpch")
    args = parser.parse_args()
    try:
        files = generate(args.scale, args.out or default_folder())
    except GeneratorMissing as exc:
        sys.exit(str(exc))
    print(f"Wrote {len(files)} tables at scale factor {args.scale:g} to {files[0].parent}")


if __name__ == "__main__":
    main()

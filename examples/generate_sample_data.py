"""Write deterministic sample sales data for the examples: ``day, store, product, amount``.

About 3% of amounts are negative (refunds) and 2% are missing, so cleaning steps have work to
do. The same ``--rows`` and ``--seed`` always give the same data, split over ``--parts`` files::

    python examples/generate_sample_data.py --rows 10000 --out ./data/raw/sales

The default output folder is ``$GLACIER_BASE_PATH/raw/sales`` (``./data/raw/sales``), which is
where the example pipelines read ``raw/sales/*.parquet``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
from pathlib import Path

import polars as pl

STORES = [f"store-{i:02d}" for i in range(1, 9)]
PRODUCTS = ["apples", "bread", "cheese", "coffee", "eggs", "milk", "rice", "tea"]
FIRST_DAY = dt.date(2024, 1, 1)
DAYS = 30


def default_out_dir() -> Path:
    return Path(os.environ.get("GLACIER_BASE_PATH", "./data")) / "raw" / "sales"


def generate(rows: int, seed: int = 7) -> pl.DataFrame:
    """``rows`` sales; the same arguments always give the same frame."""
    rng = random.Random(seed)
    amounts: list[float | None] = []
    for _ in range(rows):
        draw = rng.random()
        amount = round(rng.uniform(1.0, 120.0), 2)
        amounts.append(None if draw < 0.02 else -amount if draw < 0.05 else amount)
    return pl.DataFrame(
        {
            "day": [FIRST_DAY + dt.timedelta(days=rng.randrange(DAYS)) for _ in range(rows)],
            "store": [rng.choice(STORES) for _ in range(rows)],
            "product": [rng.choice(PRODUCTS) for _ in range(rows)],
            "amount": amounts,
        },
        schema={"day": pl.Date, "store": pl.String, "product": pl.String, "amount": pl.Float64},
    )


def write_parts(frame: pl.DataFrame, out_dir: Path, parts: int = 4) -> list[Path]:
    """Split ``frame`` into ``parts`` Parquet files ``part-000.parquet``... in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    size = -(-frame.height // parts) if frame.height else 0
    paths = []
    for i in range(parts):
        path = out_dir / f"part-{i:03d}.parquet"
        frame.slice(i * size, size).write_parquet(path)
        paths.append(path)
    return paths


def ensure_sample_data(rows: int = 10_000) -> None:
    """Write the default sample data unless some is already there (the examples call this)."""
    out_dir = default_out_dir()
    if not any(out_dir.glob("*.parquet")):
        write_parts(generate(rows), out_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="number of sales (10000)")
    parser.add_argument("--parts", type=int, default=4, help="number of Parquet files (4)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (7)")
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    args = parser.parse_args(argv)
    if args.rows < 0 or args.parts < 1:
        parser.error("--rows must be >= 0 and --parts >= 1")
    paths = write_parts(generate(args.rows, args.seed), args.out or default_out_dir(), args.parts)
    print(f"wrote {args.rows} rows to {len(paths)} files in {paths[0].parent}")


if __name__ == "__main__":
    main()

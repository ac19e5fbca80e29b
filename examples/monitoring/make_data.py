"""Generate the credit data the monitoring example trains on, and traffic for its endpoint.

``python make_data.py OUT.csv [--shift]``: 2,000 applicants (age, income, debt_ratio,
region) and whether they defaulted. ``--shift`` makes the population the model meets later:
older, more indebted — the drift the monitor must catch on exactly those two features.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd


def credit(rows: int, *, shift: bool = False, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed + (1 if shift else 0))
    age = rng.normal(52 if shift else 38, 9, rows).clip(18, 90).round()
    income = rng.lognormal(10.5, 0.4, rows).round(-2)
    debt = rng.beta(5 if shift else 2, 5, rows).round(3)
    region = rng.choice(["north", "south", "east", "west"], rows, p=[0.4, 0.3, 0.2, 0.1])
    risk = 0.04 * (age - 38) + 4.0 * (debt - 0.3) - 0.5 * (np.log(income) - 10.5)
    default = (rng.random(rows) < 1 / (1 + np.exp(-risk))).astype(int)
    return pd.DataFrame(
        {"age": age, "income": income, "debt_ratio": debt, "region": region, "default": default}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--shift", action="store_true")
    args = parser.parse_args()
    credit(args.rows, shift=args.shift).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()

"""Seeded synthetic card transactions for the `risk` model (shared by train_risk.py and
risk_fixture.py, so the fixture's rows come from the same distribution as the training set).

Eight float features per row, in this order (the model's input `features`, shape [N, 8]):
  0 amount_usd             log-normal, median about 40
  1 hour                   0..23, local time of the transaction
  2 merchant_category      0..7 code (0 grocery, 1 fuel, 2 restaurants, 3 travel,
                           4 electronics, 5 gift cards, 6 online gaming, 7 other)
  3 account_age_days       0..3650
  4 velocity_1h            transactions on the card in the hour before, 0..20
  5 distance_from_home_km  0..5000
  6 is_foreign             0 or 1
  7 card_present           0 or 1
The label (1 = fraud) is drawn from a logistic function of non-linear terms of these (night
hours, risky categories, new accounts, bursts), so a small MLP beats a linear model; about
16% of rows are fraud. Not here: anything about real data; these figures are invented.
"""

import numpy as np

FEATURES = [
    "amount_usd",
    "hour",
    "merchant_category",
    "account_age_days",
    "velocity_1h",
    "distance_from_home_km",
    "is_foreign",
    "card_present",
]

CATEGORY_RISK = np.array([-0.6, -0.2, -0.4, 0.5, 0.9, 1.6, 1.2, 0.0])


def transactions(count, seed):
    """Returns (x float32 [count, 8], y int64 [count])."""
    rng = np.random.default_rng(seed)
    amount = np.round(rng.lognormal(mean=3.7, sigma=1.1, size=count), 2)
    hour = rng.integers(0, 24, size=count)
    category = rng.integers(0, 8, size=count)
    age = rng.integers(0, 3651, size=count)
    velocity = np.minimum(rng.poisson(0.7, size=count), 20)
    distance = np.round(np.minimum(rng.exponential(25.0, size=count), 5000.0), 1)
    foreign = (rng.random(count) < 0.08).astype(np.int64)
    present = (rng.random(count) < 0.6).astype(np.int64)

    night = ((hour >= 0) & (hour <= 5)).astype(float)
    logit = (
        -5.2
        + 0.55 * np.log1p(amount)
        + 1.3 * night
        + CATEGORY_RISK[category]
        + 1.4 * np.exp(-age / 60.0)
        + 0.45 * velocity
        + 0.6 * np.log1p(distance) / np.log1p(5000.0) * 3.0
        + 0.9 * foreign
        - 1.2 * present
    )
    p = 1.0 / (1.0 + np.exp(-logit))
    y = (rng.random(count) < p).astype(np.int64)
    x = np.stack(
        [amount, hour, category, age, velocity, distance, foreign, present], axis=1
    ).astype(np.float32)
    return x, y

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from outreach_routes import load_config, load_incidents
from outreach_routes.backtest import _hits, backtest_city, summarise


def test_ties_at_the_cut_off_count_fractionally():
    risk = np.array([3.0, 2.0, 2.0, 1.0])
    actual = np.array([1.0, 1.0, 0.0, 5.0])
    # Half the cells: the top one, and half of the two tied at 2.
    assert _hits(risk, actual, 0.5) == 1.5
    assert _hits(risk, actual, 0.25) == 1.0
    assert _hits(risk, actual, 1.0) == 7.0


def test_backtest_on_real_weeks():
    config = load_config()
    table = load_incidents(config.incidents, crs=config.city.crs, timezone=config.city.timezone)
    scores = backtest_city(
        config,
        table.incidents,
        test_from=pd.Timestamp("2022-11-01"),
        test_to=pd.Timestamp("2022-12-26"),
    )
    weeks = sorted(scores["week"].unique())
    assert len(weeks) == 8 and all(w.weekday() == 0 for w in weeks)
    assert str(weeks[0]) == "2022-11-07"
    assert len(scores) == 8 * 4 * 4
    # A week's incidents are the same whatever the model, and more area never catches fewer.
    assert scores.groupby("week")["incidents"].nunique().eq(1).all()
    wide = scores.pivot_table(index=["week", "model"], columns="share", values="hits")
    assert (wide.diff(axis=1).iloc[:, 1:] >= -1e-9).all().all()
    summary = summarise(scores)
    at5 = summary[summary["share"] == 0.05].set_index("model")
    assert (at5["hit_rate"] > 0.05 * 3).all()  # every model far better than chance
    assert at5.at["model", "pai"] > 5


def test_rolling_origin_chooses_the_steadiest_on_earlier_years_only():
    from outreach_routes.backtest import rolling_origin, yearly_gain

    # "spiky" gains most on average over 2016-2017 but loses in 2016; "steady" gains a little
    # in both. In 2018 "spiky" would have been the better pick: the choice must not see that.
    gains = {"spiky": {2016: -0.02, 2017: 0.10, 2018: 0.20}, "steady": {2016: 0.01, 2017: 0.02,
             2018: 0.01}}  # fmt: skip
    rows = []
    for year in (2016, 2017, 2018):
        for week in pd.date_range(f"{year}-01-04", periods=4, freq="7D"):
            base = 0.3 + 0.01 * week.day_of_year / 7
            rates = {"count_all": base} | {m: base + g[year] for m, g in gains.items()}
            for model, rate in rates.items():
                rows.append({"week": week.date(), "model": model, "share": 0.05, "hit_rate": rate})
    scores = pd.DataFrame(rows)
    yearly = yearly_gain(scores)
    assert yearly.loc[2017, "spiky"] == pytest.approx(0.10)
    (row,) = rolling_origin(scores, (2018,)).to_dict("records")
    assert row["chosen"] == "steady" and row["gain"] == pytest.approx(0.01)
    assert row["weeks"] == 4 and row["error"] == pytest.approx(0.0, abs=1e-12)
    assert row["model@0.05"] - row["baseline@0.05"] == pytest.approx(0.01)

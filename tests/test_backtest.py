from __future__ import annotations

import numpy as np
import pandas as pd

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

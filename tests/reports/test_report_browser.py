"""The experiment's report, drawn by a real browser (headless Chromium) 1280 px wide: no table is wider
than the window or hides columns behind a scroll bar. Made from synthetic data, without training."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from soundtag.config import RecipeConfig
from soundtag.reports import ExperimentSummary, RecipeSummary, StageScores, cleaner_summary, write_experiment_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs a headless Chromium: no `chromium` on PATH")

WIDTH = 1280
MEASURE = """<script>
window.addEventListener('load', () => {
  const width = window.innerWidth;
  const tables = [...document.querySelectorAll('table')];
  const wide = tables.filter(t => t.getBoundingClientRect().right > width + 1
                               || t.parentElement.scrollWidth > t.parentElement.clientWidth + 1);
  document.title = `measured ${document.documentElement.scrollWidth} ${width} ${tables.length} ${wide.length}`;
});
</script></body>"""

SCHEMES = pd.DataFrame({
    "scheme": ["all", "music2", "groups3", "groups5"], "groups": [1, 2, 2, 4], "clips": [79] * 4, "verified": [36] * 4,
    "verified_pct": [45.6] * 4, "promoted": [8, 15, 15, 20], "promoted_pct": [18.6, 34.9, 34.9, 46.5],
    "verified_after": [44, 51, 51, 56], "verified_after_pct": [55.7, 64.6, 64.6, 70.9],
    "promoted_precision": [1.0, 0.6, 0.6, 0.65], "wrong_labels": [25] * 4,
    "wrong_caught_pct": [100.0, 76.0, 76.0, 72.0]})
ROUNDS = pd.DataFrame({"round": [1, 2, 3], "lower": [None, 0.8, 0.7], "epochs": [6, 6, 6],
                       "clips_used": [60, 71, 79], "added": [0, 11, 8], "train_acc": [0.5, 0.6, 0.65],
                       "val_acc": [0.4, 0.45, 0.5], "val_map3": [0.5, 0.55, 0.6]})
COLLAPSED = ("best epoch 1 of 20: it never improved after the first epoch; "
             "predicts 'Gunshot_or_gunfire' for 91 % of the test clips")


def synthetic_summary(tmp_path) -> ExperimentSummary:
    rng = np.random.default_rng(0)
    names = ["all_labels", "verified", "promoted", "selftrain", "recipe_1", "recipe_2", "recipe_3"]
    stages = {name: StageScores(float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.1, 0.8)), 34,
                                val_map3=float(rng.uniform(0.1, 0.9)), map3_se=0.06, best_epoch=7, epochs=20,
                                top_class="Bark", top_class_share=0.2) for name in names}
    stages["verified"].collapsed = COLLAPSED
    ensemble = StageScores(0.71234, 0.61, 34, runs=["promoted", "selftrain", "all_labels"], method="geometric",
                           map3_se=0.05, left_out={"verified": f"collapsed: {COLLAPSED}"})
    stages["ensemble"] = ensemble
    stages["recipe_ensemble"] = StageScores(0.7, 0.6, 34, runs=["recipe_1", "recipe_2", "recipe_3"],
                                            method="geometric", map3_se=0.05)
    run = tmp_path / "run"
    run.mkdir()
    pd.DataFrame({"epoch": [1], "seconds": [60.0]}).to_csv(run / "metrics.csv", index=False)
    recipe = RecipeConfig(members=3, cleaner="confident", overrides=["train.augment.mixup_alpha=0.3"])
    return ExperimentSummary(stages, {name: 123.456 for name in names}, "music2", "latent", {},
                             {"dcase2018": RecipeSummary.of(ensemble, [run]),
                              "recipe": RecipeSummary.of(stages["recipe_ensemble"], [run], recipe)},
                             cleaner_summary(SCHEMES, SCHEMES.iloc[[2]], "music2"))


def test_no_table_is_wider_than_a_1280_px_window(tmp_path):
    out = tmp_path / "exp"
    (out / "spread-music2").mkdir(parents=True)
    groups = SCHEMES.drop(columns=["scheme", "groups"]).iloc[:3].assign(group=["music", "non_music", "total"],
                                                                         classes=[9, 2, 11])
    groups.to_csv(out / "spread-music2" / "groups.csv", index=False)
    summary = synthetic_summary(tmp_path)
    reference = SCHEMES.assign(promoted_precision=[0.8, 0.625, 0.625, 0.733])
    write_experiment_report(out, summary, SCHEMES, ROUNDS, {}, reference, "/data/a/rather/long/corpus/path",
                            "configs/experiment-demo.yaml --set train.epochs=2 --set model.fc_dim=32")
    page = (out / "report.html").read_text()
    for words in ("test MAP@3", "wrong labels caught %", "promoted %", "34 clips", "standard error of MAP@3",
                  "collapsed", "configs/experiment-demo.yaml"):
        assert words in page
    assert "promoted_pct" not in page and "0.71234" not in page and "0.712" in page
    measured = tmp_path / "measured.html"
    measured.write_text(page.replace("</body>", MEASURE))
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          f"--window-size={WIDTH},2000", "--virtual-time-budget=5000", "--dump-dom",
                          measured.as_uri()], capture_output=True, text=True, timeout=120).stdout
    found = re.search(r"<title>measured (\d+) (\d+) (\d+) (\d+)</title>", dom)
    assert found, f"the page did not report its measures: {dom[:300]!r}"
    page_width, window, tables, wide = map(int, found.groups())
    assert window == WIDTH and tables >= 7
    assert wide == 0 and page_width <= WIDTH

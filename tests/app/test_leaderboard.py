"""`harness leaderboard`: tables from the store, and the HTML page in a real headless Chromium."""

import csv
import json
import subprocess
import sys
from pathlib import Path

from app.leaderboard import publish
from harness.store import Store
from tests.conftest import require, require_executables

XSS = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'>"


def _store_with_iterations(path: Path) -> tuple[str, list[dict]]:
    store = Store(path)
    run_id = store.start_run("iterate", {"mode": "meta_rewarding"})
    rows = []
    for it in (1, 2, 3):
        model = f"runs/demo/m{it}"
        judge = [
            {"metric": "pairwise_accuracy", "value": 0.5 + 0.1 * it, "ci_low": 0.4, "ci_high": 0.9, "n": 40},
            {"metric": "parse_rate", "value": 0.7 + 0.1 * it, "n": 120},
        ] + [{"metric": f"score_frac_{k}", "value": [0.1, 0.1, 0.2, 0.2, 0.2, 0.2][k]} for k in range(6)]
        actor = [{"metric": "accuracy", "value": 0.1 * it, "ci_low": 0.0, "ci_high": 0.5, "n": 40}]
        store.put_results(run_id, it, model, "judge", judge)
        store.put_results(run_id, it, model, "taskworld", actor)
        sample = {"prompt": "p", "output": XSS if it == 2 else f"answer {it}"}
        store.put_samples(run_id, it, model, "taskworld", [sample])
        rows += [(it, "judge", r) for r in judge] + [(it, "taskworld", r) for r in actor]
    store.update_run(run_id, {}, status="finished")
    store.close()
    return run_id, rows


def test_tables_carry_the_stored_numbers(tmp_path: Path) -> None:
    run_id, rows = _store_with_iterations(tmp_path / "s.sqlite")
    result = publish(str(tmp_path / "s.sqlite"), tmp_path / "out", formats=["md", "csv", "json"])
    judge = json.loads((tmp_path / "out" / "judge.json").read_text())
    assert [r["iteration"] for r in judge["rows"]] == [1, 2, 3]
    for it, bench, r in rows:
        table = judge if bench == "judge" else json.loads((tmp_path / "out" / "actor.json").read_text())
        row = next(x for x in table["rows"] if x["iteration"] == it)
        assert row[f"{bench}.{r['metric']}"]["value"] == r["value"]
        assert row["run_id"] == run_id
    with (tmp_path / "out" / "actor.csv").open() as f:
        csv_rows = list(csv.DictReader(f))
    assert [float(r["taskworld.accuracy"]) for r in csv_rows] == [0.1, 0.2, 0.1 * 3]
    md = (tmp_path / "out" / "leaderboard.md").read_text()
    assert f"(#run-{run_id})" in md and "judge.pairwise_accuracy" in md
    assert result["markdown"] in md


def test_terminal_headers_never_fold_at_80_columns() -> None:
    """Every header is whole on one line of an 80-column table, and the caption names each column in full."""
    from rich.console import Console

    from app import leaderboard as app_leaderboard
    from app.leaderboard import terminal_tables

    cols = ["judge.pairwise_accuracy", "judge.pairwise_accuracy.delta_prev", "judge.pairwise_accuracy_ties_excluded",
            "judge.judge_tie_rate", "judge.parse_rate", "judge_alarms.all_equal_share"]  # fmt: skip
    row = {"iteration": 2, "run_id": "20261207-1", "model": "m", **{c: {"value": -0.00406} for c in cols}}
    console = Console(width=80, record=True, color_system=None)
    for table in terminal_tables({"judge": {"columns": cols, "rows": [row]}}, width=80):
        console.print(table)
    text = console.export_text()
    header = next(line for line in text.splitlines() if "model" in line)
    words = [w for w in header.replace("┃", " ").split() if w != "model"]
    # the declared 80-column metrics, in this order: the agreement both ways beside the tie rate (issue 34)
    assert app_leaderboard._terminal_columns("judge", sorted(cols)) == cols
    assert len(words) == len(cols), header  # one line of headers: none folded onto a second line
    assert all(len(w) <= 8 for w in words), words
    legend = " ".join(text.split())  # the caption wraps at spaces only
    assert all(f"{w} = {c}" in legend for w, c in zip(words, cols, strict=True)), legend  # each header, whole
    assert max(len(line) for line in text.splitlines()) <= 80


def test_cli_leaderboard_errors(tmp_path: Path) -> None:
    Store(tmp_path / "empty.sqlite").close()
    res = subprocess.run(
        [sys.executable, "-m", "app", "leaderboard", "--store", str(tmp_path / "empty.sqlite"), "--out", str(tmp_path / "o")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert res.returncode == 2 and res.stderr.startswith("error: store ") and "no results" in res.stderr
    assert not (tmp_path / "o").exists()


def test_html_in_headless_chromium(tmp_path: Path) -> None:
    chromium, driver = require_executables("chromium", "chromedriver")
    webdriver = require("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    _store_with_iterations(tmp_path / "s.sqlite")
    publish(str(tmp_path / "s.sqlite"), tmp_path / "out", formats=["html"])
    page = tmp_path / "out" / "leaderboard.html"
    html = page.read_text()
    assert "<script>window.__pwned" not in html and "&lt;script&gt;window.__pwned" in html
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
    ):  # fmt: skip
        opts.add_argument(flag)
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    try:
        browser.set_window_size(1400, 1000)
        browser.get(page.as_uri())
        assert browser.save_screenshot(str(tmp_path / "shot.png"))
        assert (tmp_path / "shot.png").stat().st_size > 10_000
        tables = browser.find_elements(By.CSS_SELECTOR, "table.sortable")
        assert {t.get_attribute("id") for t in tables} >= {"table-judge", "table-actor", "samples"}
        # the model output is shown as text and its script never ran
        assert browser.execute_script("return window.__pwned === undefined")
        assert XSS.split("<img")[0] in browser.find_element(By.ID, "samples").text
        # sorting: click the accuracy column header twice (ascending, then descending)
        table = browser.find_element(By.ID, "table-actor")
        header = next(th for th in table.find_elements(By.TAG_NAME, "th") if th.text == "taskworld.accuracy")
        col = [th.text for th in table.find_elements(By.TAG_NAME, "th")].index("taskworld.accuracy")

        def column() -> list[float]:
            rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
            return [float(r.find_elements(By.TAG_NAME, "td")[col].get_attribute("data-sort")) for r in rows]

        header.click()
        assert column() == sorted(column())
        header.click()
        assert column() == sorted(column(), reverse=True) and column()[0] > column()[-1]
        # the plots live on the run's report page (tests/app/test_report_page.py), linked from the index
        links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#run-pages a")]
        assert len(links) == 1 and links[0].endswith(".html") and "/run-" in links[0]
    finally:
        browser.quit()

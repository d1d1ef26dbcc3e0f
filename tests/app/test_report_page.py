"""The report page of an iterate run, on a demo-shaped store, in a real headless chromium (selenium)."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from app.leaderboard import publish
from harness.store import Store
from tests.conftest import require, require_executables

XSS = "<script>window.__pwned = 1</script><img src=x onerror='window.__pwned=2'>"
LITERAL = "<b>not bold</b> & 3 < 4"
ITS = (1, 2, 3)
N_PROMPTS = 40


def _delta(d: float, half: float) -> dict[str, float]:
    return {"value": d, "ci_low": d - half, "ci_high": d + half}


def demo_shaped_store(path: Path) -> tuple[str, dict[int, dict[str, bool]]]:
    """Three iterations of an iterate run as the demo stores them: judge, actor, alarm and meta-judge metrics with
    CIs and paired differences, gate decisions, and every taskworld / judge sample. Returns the run id and the
    planted correctness per iteration and prompt."""
    rng = random.Random(7)
    store = Store(path)
    run_id = store.start_run("iterate", {"mode": "meta_rewarding"})
    correct: dict[int, dict[str, bool]] = {}
    prompts = [f"What is {i} + {i + 3}?" for i in range(N_PROMPTS)]
    for it in ITS:
        model = f"demo/run/m{it}"
        judge: list[dict[str, Any]] = [
            {"metric": "pairwise_accuracy", "value": 0.89 - 0.01 * it, "ci_low": 0.85 - 0.01 * it, "ci_high": 0.92},
            {"metric": "pairwise_accuracy_ties_excluded", "value": 0.96, "ci_low": 0.95, "ci_high": 0.97},
            {"metric": "spearman", "value": 0.9, "ci_low": 0.88, "ci_high": 0.92},
            {"metric": "kendall", "value": 0.88, "ci_low": 0.86, "ci_high": 0.9},
            {"metric": "mean_score", "value": 2.7, "ci_low": 2.6, "ci_high": 2.8},
            {"metric": "judgment_parse_rate", "value": 1.0},
            {"metric": "judge_tie_rate", "value": 0.07 + 0.01 * it},
        ] + [{"metric": f"score_frac_{k}", "value": [0.25, 0, 0.27, 0, 0.22, 0.26][k]} for k in range(6)]
        actor: list[dict[str, Any]] = [
            {"metric": "accuracy", "value": 0.6 + 0.04 * it, "ci_low": 0.55 + 0.04 * it, "ci_high": 0.65 + 0.04 * it},
            {"metric": "avg_length", "value": 19 - 0.5 * it, "ci_low": 18 - 0.5 * it, "ci_high": 20 - 0.5 * it},
        ]
        if it > 1:  # paired differences: one better, one worse, one n.s., one without a direction
            judge += [{"metric": "pairwise_accuracy.delta_prev", **_delta(-0.014, 0.009)},
                      {"metric": "spearman.delta_prev", **_delta(0.002, 0.009)}]  # fmt: skip
            actor += [{"metric": "accuracy.delta_prev", **_delta(0.04, 0.03)},
                      {"metric": "avg_length.delta_prev", **_delta(-0.5, 0.3)}]  # fmt: skip
        if it == 3:
            judge += [{"metric": "pairwise_accuracy.delta_first", **_delta(-0.02, 0.01)},
                      {"metric": "spearman.delta_first", **_delta(0.0, 0.01)}]  # fmt: skip
            actor += [{"metric": "accuracy.delta_first", **_delta(0.08, 0.04)},
                      {"metric": "avg_length.delta_first", **_delta(-1.0, 0.6)}]  # fmt: skip
        store.put_results(run_id, it, model, "judge", judge)
        store.put_results(run_id, it, model, "taskworld", actor)
        store.put_results(run_id, it, model, "judge_alarms", [{"metric": "all_equal_share", "value": 0.2 * it}])
        store.put_results(run_id, it, model, "meta_judge", [{"metric": "first_position_all", "value": 0.7}])
        correct[it] = {p: rng.random() < 0.5 + 0.1 * it for p in prompts}
        tw = []
        for k, p in enumerate(prompts):
            output = XSS if k == 0 else LITERAL if k == 1 else f"The answer is {k + it}."
            tw.append(
                {"item": p, "prompt": p, "reference": str(2 * k + 3), "output": output, "correct": correct[it][p]}
            )
        store.put_samples(run_id, it, model, "taskworld", tw)
        js = [{"prompt_id": f"tw-eval-{k}", "human_rank": 1 + k % 4, "response": f"response {k}", "score": float(k % 6),
               "judgments": [f"Rationale {k}.\nScore: {k % 6}"], "scores": [float(k % 6)], "parsed": [True]}
              for k in range(12)]  # fmt: skip
        store.put_samples(run_id, it, model, "judge", js)
        gate = {"iteration": it, "model": model, "passed": it != 2,
                "reasons": [f"{'PASS' if it != 2 else 'FAIL'} taskworld.accuracy.delta_prev.ci_high >= 0: 0.1 >= 0"]}  # fmt: skip
        store.kv_put(f"gate:{run_id}:{it}", json.dumps(gate))
    store.update_run(run_id, {}, status="finished")
    store.close()
    return run_id, correct


def _terminal_verdicts(store_path: Path, run_id: str) -> list[tuple[str, str, str]]:
    """(metric, comparison, verdict) as the terminal "Did it get better?" table prints them for this run."""
    from rich.console import Console

    from app.report_html import summary_of
    from training.report import iteration_table

    store = Store(store_path, must_exist=True)
    rows = store.get_results([run_id])
    store.close()
    console = Console(width=200, record=True, color_system=None)
    iteration_table(summary_of(rows), console=console)
    out = []
    for line in console.export_text().splitlines():
        cells = [c.strip() for c in line.split("│")[1:-1]]
        if len(cells) == 5 and re.match(r"M\d+ - M\d+", cells[1]):
            out.append((cells[0], cells[1], cells[4]))
    return out


def test_forest_plot_verdicts_equal_the_terminal_tables(tmp_path: Path) -> None:
    run_id, _ = demo_shaped_store(tmp_path / "s.sqlite")
    publish(str(tmp_path / "s.sqlite"), tmp_path / "out", formats=["html"])
    page = (tmp_path / "out" / f"run-{run_id}.html").read_text()
    shown = re.findall(r"<tr data-metric='([^']+)' data-comparison='([^']+)' data-verdict='([^']+)'>", page)
    terminal = _terminal_verdicts(tmp_path / "s.sqlite", run_id)
    assert sorted(shown) == sorted(terminal) and len(terminal) == 12
    # the planted differences: each verdict the CI and the declared direction give
    verdicts = {(m, c): v for m, c, v in shown}
    assert verdicts[("taskworld.accuracy", "M3 - M1")] == "better"
    assert verdicts[("judge.pairwise_accuracy", "M2 - M1")] == "worse"
    assert verdicts[("judge.spearman", "M3 - M2")] == "n.s."
    assert verdicts[("taskworld.avg_length", "M3 - M1")] == "down"


def test_the_answer_comes_first_and_several_judges_get_an_evaluator_table(tmp_path: Path) -> None:
    """ "Did it get better?" precedes the panels; an iteration judged by two judges shows one evaluator row per
    judge with its own values (2 decimals, "-" where unknown); a missing score fraction is not drawn as 0."""
    run_id, _ = demo_shaped_store(tmp_path / "s.sqlite")
    store = Store(tmp_path / "s.sqlite")
    for judge, acc, rho in (("openai:judge-a@http://h/v1", 0.812, 0.4), ("openai:judge-b@http://h/v1", 0.655, None)):
        store.put_results(
            run_id,
            3,
            judge,
            "judge",
            [{"metric": "pairwise_accuracy_ties_excluded", "value": acc}, {"metric": "spearman", "value": rho}],
        )
    store.put_results(run_id, 2, "demo/run/m2", "judge", [{"metric": "score_frac_5", "value": None}])
    store.close()
    publish(str(tmp_path / "s.sqlite"), tmp_path / "out", formats=["html"])
    page = (tmp_path / "out" / f"run-{run_id}.html").read_text()
    assert page.index("<h2>Did it get better?</h2>") < page.index("<h2>Judge</h2>") < page.index("<h2>Actor</h2>")
    table = page[page.index("<table id='evaluators'>") :]
    table = table[: table.index("</table>")]
    rows = [c for tr in re.findall(r"<tr>(.*?)</tr>", table) if (c := re.findall(r"<td>(.*?)</td>", tr))]
    by_judge = {r[1]: r for r in rows}
    assert set(by_judge) == {"demo/run/m3", "openai:judge-a@http://h/v1", "openai:judge-b@http://h/v1"}
    assert all(r[0] == "M3" for r in rows)  # only the iteration with several judges
    assert by_judge["openai:judge-a@http://h/v1"][2:4] == ["0.81", "0.40"]
    assert by_judge["openai:judge-b@http://h/v1"][2:4] == ["0.66", "-"]
    assert by_judge["demo/run/m3"][2:4] == ["0.96", "0.90"]
    dist = json.loads(re.search(r'Plotly.newPlot\(\s*"score-dist",\s*(\[.*?\]),\s*\{', page, re.S).group(1))
    m2 = next(t for t in dist if t["name"] == "M2")
    assert 5 not in m2["x"] and len(m2["x"]) == 5  # the unknown fraction is absent, not a bar at 0


@pytest.fixture()
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    chromium, driver = require_executables("chromium", "chromedriver")
    webdriver = require("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", f"--user-data-dir={tmp_path / 'profile'}"):  # fmt: skip
        opts.add_argument(flag)
    b = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    yield b
    b.quit()


def _assert_no_page_overflow(browser, page: Path) -> None:  # type: ignore[no-untyped-def]
    """The page never scrolls sideways at 1400 px nor at 800 px (a wide table scrolls inside its own box)."""
    for width in (1400, 800):
        browser.set_window_size(width, 1000)
        browser.get(page.as_uri())
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.name}: horizontal overflow of {overflow} px at {width} px"


def test_report_page_in_headless_chromium(tmp_path: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    run_id, correct = demo_shaped_store(tmp_path / "s.sqlite")
    publish(str(tmp_path / "s.sqlite"), tmp_path / "out", formats=["html"])
    page = tmp_path / "out" / f"run-{run_id}.html"
    assert "<script>window.__pwned" not in page.read_text()
    index = tmp_path / "out" / "leaderboard.html"
    assert f"run-{run_id}.html" in index.read_text()  # the index links it
    # the index across runs: no page overflow either; its first judge table holds the headline metrics only, the
    # other metrics (score fractions, paired differences) are one click away in a closed <details>
    _assert_no_page_overflow(browser, index)
    heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#table-judge th")]
    assert heads == [
        "model", "judge.pairwise_accuracy", "judge.pairwise_accuracy_ties_excluded", "judge.judge_tie_rate",
        "judge.spearman", "judge.kendall", "judge.mean_score", "judge.judgment_parse_rate",
        "meta_judge.first_position_all", "judge_alarms.all_equal_share", "run",
    ]  # fmt: skip
    shown_samples = browser.find_element(By.ID, "samples").text
    assert "response 0" in shown_samples and "prompt_id" not in shown_samples  # text as text, no JSON dump
    rest = browser.find_element(By.ID, "all-judge")
    assert not rest.is_displayed()
    browser.find_element(By.XPATH, "//summary[contains(., 'judge metrics')]").click()
    assert rest.is_displayed()
    assert "judge.score_frac_0" in [th.text for th in rest.find_elements(By.TAG_NAME, "th")]
    _assert_no_page_overflow(browser, page)
    # every headline panel, each on its own axes with a handful of series at most
    panels = browser.execute_script(
        """var out={};['judge-panels','actor-panels'].forEach(function(id){
        var figs=document.querySelectorAll('#'+id+' .js-plotly-plot');
        out[id]=Array.prototype.map.call(figs,function(gd){return [gd.layout.title.text, gd.data.length];});});
        return out;"""
    )
    assert [t for t, _ in panels["judge-panels"]] == [
        "judge.pairwise_accuracy", "judge.pairwise_accuracy_ties_excluded", "judge.judge_tie_rate", "judge.spearman",
        "judge.kendall", "judge.mean_score", "judge.judgment_parse_rate", "meta_judge.first_position_all",
    ]  # fmt: skip
    assert [t for t, _ in panels["actor-panels"]] == ["taskworld.accuracy", "taskworld.avg_length"]
    # one axis per panel, with a handful of series at most (the CI band's two edges, the values, the best mark)
    assert all(1 <= n <= 4 for id_ in panels for _, n in panels[id_])
    # the "regressed" filter: exactly the prompts right at M1 and wrong at M3 (the defaults A = M1, B = M3)
    browser.find_element(By.ID, "filter-regressed").click()
    rows = browser.find_elements(By.CSS_SELECTOR, "#sample-browser tbody tr")
    shown = {r.get_attribute("data-prompt") for r in rows}
    expected = {p for p in correct[1] if correct[1][p] and not correct[3][p]}
    assert shown == expected and expected
    # model text is shown as text, and its script never ran
    browser.find_element(By.ID, "filter-all").click()
    search = browser.find_element(By.ID, "sample-search")
    search.send_keys("not bold")
    text = browser.find_element(By.ID, "sample-browser").text
    assert LITERAL in text
    search.clear()
    search.send_keys("pwned")
    assert XSS.split("<img")[0] in browser.find_element(By.ID, "sample-browser").text
    assert browser.execute_script("return window.__pwned === undefined")
    # the judge's rationale beside each response's known rank
    assert "Rationale 5." in browser.find_element(By.ID, "judge-browser").text

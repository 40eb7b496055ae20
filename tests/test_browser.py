"""Both pages in a real headless Chromium: videos load and play, sorting, a vote that survives a
server restart, and markup from a run or a prompt shown as text. Skipped where no browser exists
(.ci/run installs chromium and chromium-driver)."""

import sqlite3

import pytest

from browser import chromium_or_skip, wait_for
from eve_bench.reports.leaderboard import write_leaderboard
from page_runs import INJECTED, injected_runs, serving, synth_runs

PLAYING = "[...document.querySelectorAll('{0}')].every(v => v.readyState >= 2 && !v.error && v.currentTime > 0.2)"


@pytest.fixture(scope="module")
def driver():
    d = chromium_or_skip()
    yield d
    d.quit()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return synth_runs(root / "synth"), injected_runs(root / "tgve")


def test_leaderboard_page_plays_videos_and_sorts(driver, runs, tmp_path):
    write_leaderboard(runs[0], tmp_path / "lb")
    driver.get((tmp_path / "lb" / "leaderboard.html").as_uri())  # from disk: relative links only
    assert wait_for(driver, "document.querySelectorAll('#videos video').length") == 2 + 3  # source, truth, 3 runs
    wait_for(driver, PLAYING.format("#videos video"))
    # Another sample: its videos replace the first's and play too.
    driver.execute_script("const s = document.getElementById('sample'); s.value = 3; s.dispatchEvent(new Event('change'))")
    assert wait_for(driver, "document.querySelector('#videos video').src").endswith("/leaderboard_media/source/synth/synth-000/multiple.mp4")
    wait_for(driver, PLAYING.format("#videos video"))
    # Sorting by source_mae: ascending on the first click, descending on the second.
    header = "[...document.querySelectorAll('#overall th')].find(th => th.textContent.startsWith('source_mae'))"
    column = f"[...document.querySelectorAll('#overall th')].indexOf({header})"
    values = f"[...document.querySelectorAll('#overall tbody tr')].map(tr => parseFloat(tr.children[{column}].dataset.v))"
    driver.execute_script(f"{header}.querySelector('button').click()")
    ascending = driver.execute_script(f"return {values}")
    assert ascending == sorted(ascending) and driver.execute_script(f"return {header}.getAttribute('aria-sort')") == "ascending"
    driver.execute_script(f"{header}.querySelector('button').click()")
    assert driver.execute_script(f"return {values}") == sorted(ascending, reverse=True)
    assert driver.execute_script(f"return {header}.title").startswith("source_mae: diagnostic: no better direction. Mean absolute")
    warp = "[...document.querySelectorAll('#overall th')].find(th => th.textContent.startsWith('warp_error')).title"
    assert driver.execute_script(f"return {warp}").startswith("warp_error: lower is better.")


def test_leaderboard_page_shows_injected_markup_as_text(driver, runs, tmp_path):
    write_leaderboard(runs[1], tmp_path / "lb", gallery_per_task=1)
    driver.get((tmp_path / "lb" / "leaderboard.html").as_uri())
    wait_for(driver, "document.querySelectorAll('#videos video').length")
    driver.execute_script("const s = document.getElementById('sample'); s.value = [...s.options].findIndex(o => o.textContent.endsWith('/object')); "
                          "s.dispatchEvent(new Event('change'))")
    assert INJECTED in wait_for(driver, "document.getElementById('prompts').textContent")  # the caption, as text
    assert INJECTED in driver.execute_script("return document.getElementById('overall').textContent")  # the model name
    assert INJECTED in driver.execute_script("return document.getElementById('videos').textContent")  # the gallery label
    assert driver.execute_script("return window.__pwned") is None
    assert driver.execute_script("return document.querySelectorAll('img').length") == 0
    assert driver.execute_script("return document.scripts.length") == 2  # the gallery's JSON and the page's own


def test_human_page_records_a_vote_that_survives_a_restart(driver, runs, tmp_path):
    db = tmp_path / "votes.sqlite"
    with serving(runs[1], db) as base:
        driver.get(base + "/")
        driver.find_element("id", "rater").send_keys("<b>ann</b>")
        driver.find_element("css selector", "#login-form button").click()
        wait_for(driver, PLAYING.format("#videos video"))
        caption = driver.execute_script("return document.getElementById('caption').textContent")
        if "robot" in caption:  # the object edit: its caption carries markup, shown as text
            assert INJECTED in caption
        assert driver.execute_script("return window.__pwned") is None
        assert driver.execute_script("return document.querySelectorAll('img').length") == 0
        page = driver.execute_script("return document.body.textContent")
        assert "identity" not in page and "editors_for_tests" not in page  # model names hidden
        for q, side in [("text", "left"), ("structure", "right"), ("quality", "left")]:
            driver.find_element("css selector", f"input[name={q}][value={side}]").click()
        driver.find_element("id", "submit").click()
        wait_for(driver, "document.getElementById('progress').textContent.startsWith('Pair 2 of 2')")
    rows = sqlite3.connect(db).execute("SELECT rater, text, structure, quality FROM votes").fetchall()
    assert len(rows) == 1 and rows[0][0] == "<b>ann</b>"
    with serving(runs[1], db) as base:  # a new server on the same database: the vote is there, the queue resumes
        driver.get(base + "/")
        name = driver.find_element("id", "rater")
        name.clear()  # the new server has another port, so another origin: the browser does not remember the name
        name.send_keys("<b>ann</b>")
        driver.find_element("css selector", "#login-form button").click()
        assert wait_for(driver, "document.getElementById('progress').textContent").startswith("Pair 2 of 2 (rater: <b>ann</b>)")
        wait_for(driver, PLAYING.format("#videos video"))
        for q in ("text", "structure", "quality"):
            driver.find_element("css selector", f"input[name={q}][value=right]").click()
        driver.find_element("id", "submit").click()
        wait_for(driver, "!document.getElementById('done').hidden")
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 2

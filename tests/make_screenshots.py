"""The docs' screenshots of both pages, taken with the browser tests' machinery on the same small runs.

    PYTHONPATH=.:tests OMP_NUM_THREADS=1 python tests/make_screenshots.py docs

writes DIR/leaderboard_html.png (a leaderboard of identity and two noisy editors on one synth sample
per task, sorted by warp_error, the gallery on the `object` sample) and DIR/human_eval.png (the
rating page of the same runs, answers half filled in).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from browser import chromium, wait_for
from eve_bench.reports.leaderboard import write_leaderboard
from page_runs import serving, synth_runs

PLAYING = "[...document.querySelectorAll('#videos video')].every(v => v.readyState >= 2 && v.currentTime > 0.3)"


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        runs = synth_runs(Path(tmp) / "runs")
        write_leaderboard(runs, Path(tmp) / "lb", title="eve-bench leaderboard: synth (one sample per task; test editors)")
        driver = chromium(window=(1300, 980))
        try:
            driver.get((Path(tmp) / "lb" / "leaderboard.html").as_uri())
            driver.execute_script("[...document.querySelectorAll('#overall th')].find(th => th.textContent.startsWith('warp_error'))"
                                  ".querySelector('button').click();"
                                  "const s = document.getElementById('sample'); s.value = 1; s.dispatchEvent(new Event('change'))")
            wait_for(driver, PLAYING)
            driver.save_screenshot(str(out / "leaderboard_html.png"))
            with serving(runs, Path(tmp) / "votes.sqlite", ties=True) as base:
                driver.get(base + "/")
                driver.find_element("id", "rater").send_keys("ann")
                driver.find_element("css selector", "#login-form button").click()
                wait_for(driver, PLAYING)
                for q, side in [("text", "left"), ("structure", "tie")]:
                    driver.find_element("css selector", f"input[name={q}][value={side}]").click()
                driver.save_screenshot(str(out / "human_eval.png"))
        finally:
            driver.quit()
    print(out / "leaderboard_html.png", out / "human_eval.png")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs"))

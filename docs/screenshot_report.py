"""Screenshots of a run's report page in headless chromium, for the README: regenerate with

    harness leaderboard --store demo/store.sqlite --out results
    python docs/screenshot_report.py results/run-<RUN_ID>.html docs/report.png [--width 1400] [--height 1600]

Needs chromium and chromedriver (Debian's packages; `make test-deps` installs them) and selenium (the dev extra).
The PNG is scaled to half size and quantised to 256 colours so it stays small in the repository.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("page", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=1600)
    ap.add_argument("--scroll-to", default="", help="CSS selector to scroll to before the shot (e.g. #samples)")
    args = ap.parse_args()
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as profile:
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                     f"--user-data-dir={profile}"):  # fmt: skip
            opts.add_argument(flag)
        browser = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=opts)
        try:
            browser.set_window_size(args.width, args.height)
            browser.get(args.page.resolve().as_uri())
            browser.implicitly_wait(2)
            if args.scroll_to:
                browser.execute_script(f"document.querySelector({args.scroll_to!r}).scrollIntoView()")
            raw = Path(profile) / "shot.png"
            browser.save_screenshot(str(raw))
        finally:
            browser.quit()
        img = Image.open(raw).convert("RGB")
        img = img.resize((img.width // 2, img.height // 2), Image.LANCZOS).quantize(
            colors=256,
            method=Image.Quantize.FASTOCTREE,  # median cut merges the few green points into grey
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        img.save(args.out, optimize=True)
    print(f"{args.out}: {args.out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A real browser against `lenet5 serve`: headless Chromium draws digits on the page with pointer
events, checks the top prediction, opens the network view, trains one epoch on a small subset
and waits for the final accuracy. Saves a screenshot of each page.

Usage: browser_test.py LENET5_BINARY SCREENSHOT_DIR
Needs Debian's chromium and chromium-driver, and selenium (pip). Exits non-zero on any failure.
"""
import contextlib
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.pointer_input import PointerInput
from selenium.webdriver.common.actions import interaction
from selenium.webdriver.common.by import By
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.support.ui import WebDriverWait


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_server(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/api/models", timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer within %d s" % seconds)


# Strokes of three digits on the 280x280 pad, as lists of (x, y) points.
def seven():
    return [[(70, 60), (210, 60)], [(210, 60), (170, 130), (140, 200), (125, 240)]]


def zero():
    return [[(140 + 55 * math.sin(2 * math.pi * t / 40), 140 - 85 * math.cos(2 * math.pi * t / 40)) for t in range(41)]]


def three():
    top = [(95 + 90 * math.sin(math.pi * t / 20), 90 - 45 * math.cos(math.pi * t / 20)) for t in range(21)]
    bottom = [(95 + 95 * math.sin(math.pi * t / 20), 185 - 50 * math.cos(math.pi * t / 20)) for t in range(21)]
    return [top + bottom[1:]]


def draw(driver, canvas, strokes):
    """Traces each stroke with a pen pointer (pointerdown, pointermove..., pointerup)."""
    box = canvas.rect
    for stroke in strokes:
        builder = ActionBuilder(driver, mouse=PointerInput(interaction.POINTER_PEN, "pen"), duration=10)
        pen = builder.pointer_action
        start = stroke[0]
        pen.move_to(canvas, int(start[0] - box["width"] / 2), int(start[1] - box["height"] / 2))
        pen.pointer_down()
        for x, y in stroke[1:]:
            pen.move_to(canvas, int(x - box["width"] / 2), int(y - box["height"] / 2))
        pen.pointer_up()
        builder.perform()


@contextlib.contextmanager
def serve(binary):
    """Runs `binary serve` on a free port with a throwaway runs folder; yields its URL once it
    answers, and stops it afterwards (its errors go to our stderr)."""
    runs = tempfile.mkdtemp(prefix="browser-runs-")
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    server = subprocess.Popen([binary, "serve", "--port", str(port), "--runs", runs], stdout=subprocess.DEVNULL)
    try:
        wait_for_server(url)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(runs, ignore_errors=True)


def chromium():
    """Headless Chromium with a 1280x1000 window."""
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
        options.add_argument(argument)
    if shutil.which("chromium"):
        options.binary_location = shutil.which("chromium")
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def main():
    binary, shots = sys.argv[1], sys.argv[2]
    os.makedirs(shots, exist_ok=True)
    with serve(binary) as url:
        failures = check_page(url, shots)
    for failure in failures:
        print("FAILED:", failure)
    print("browser: %d passed, %d failed" % (0 if failures else 1, len(failures)))
    sys.exit(1 if failures else 0)


def check_page(url, shots):
    """Draws, opens the network view and trains on the page at `url`; returns what failed."""
    driver = None
    failures = []
    try:
        driver = chromium()
        driver.get(url)
        wait = WebDriverWait(driver, 60)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#model option"))
        guess = driver.find_element(By.ID, "guess")
        if guess.text != "draw a digit":
            failures.append("an empty pad shows %r instead of 'draw a digit'" % guess.text)
        canvas = driver.find_element(By.ID, "sketch")
        for name, strokes, expected in [("seven", seven(), "7"), ("zero", zero(), "0"), ("three", three(), "3")]:
            driver.find_element(By.ID, "clear").click()
            draw(driver, canvas, strokes)
            # The guess of a half-drawn digit, or the one before it, can show until the answer
            # for the whole drawing comes (headless Chromium runs the page's 40 ms timer late).
            try:
                WebDriverWait(driver, 10).until(lambda d: d.find_element(By.ID, "guess").text == expected)
            except TimeoutException:
                pass
            shown = driver.find_element(By.ID, "guess").text
            print("drew a %s: the page says %s (%s)" % (name, shown, driver.find_element(By.ID, "timing").text))
            if shown != expected:
                failures.append("drew a %s, the page says %r" % (name, shown))
        driver.save_screenshot(os.path.join(shots, "serve-draw.png"))

        driver.find_element(By.ID, "tab-network").click()
        wait.until(lambda d: d.find_elements(By.ID, "layer-C1") and d.find_elements(By.CSS_SELECTOR, "#filters canvas"))
        layers = [e.get_attribute("id") for e in driver.find_elements(By.CSS_SELECTOR, "#layers .layer")]
        print("network view:", ", ".join(layers))
        if layers != ["layer-" + s for s in ["C1", "S2", "C3", "S4", "C5", "F6", "F7", "output"]]:
            failures.append("the network view shows %s" % layers)
        driver.save_screenshot(os.path.join(shots, "serve-network.png"))

        driver.find_element(By.ID, "tab-train").click()
        driver.find_element(By.NAME, "epochs").send_keys("0")
        driver.find_element(By.ID, "start").click()
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, ".error[data-for=epochs]").text)
        print("epochs 0 is refused beside the field:", driver.find_element(By.CSS_SELECTOR, ".error[data-for=epochs]").text)
        epochs = driver.find_element(By.NAME, "epochs")
        epochs.clear()
        epochs.send_keys("2")
        driver.find_element(By.NAME, "trainingImages").send_keys("3000")
        driver.find_element(By.ID, "start").click()
        # The run can end in a second here, before a poll sees its progress line: wait for its
        # end, then check that the page drew its batches' losses.
        WebDriverWait(driver, 180).until(lambda d: "final test accuracy" in d.find_element(By.ID, "train-message").text)
        final = driver.find_element(By.ID, "train-message").text
        print(final)
        losses = driver.execute_script("return run.losses.length")
        print("batch losses drawn:", losses)
        if losses < 1:
            failures.append("the page showed none of the run's batches")
        if len(driver.find_elements(By.CSS_SELECTOR, "#sample .digit")) != 40:
            failures.append("the grid of test digits is not there")
        driver.save_screenshot(os.path.join(shots, "serve-train.png"))
        time.sleep(0.5)
        options_text = [o.text for o in driver.find_elements(By.CSS_SELECTOR, "#model option")]
        print("models:", options_text)
        if not any(o.startswith("web-") for o in options_text):
            failures.append("the finished run is not in the model picker")
    except Exception as error:  # a timeout or a missing element: report it as a failure
        failures.append("%s: %s" % (type(error).__name__, error))
        if driver:
            driver.save_screenshot(os.path.join(shots, "serve-failure.png"))
    finally:
        if driver:
            driver.quit()
    return failures


if __name__ == "__main__":
    main()

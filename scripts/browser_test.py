#!/usr/bin/env python3
"""A real browser against `lenet5 serve`, as a user on a desktop and on a phone: headless
Chromium draws digits with pen and touch pointer events (the answer must come within 100 ms of
pen-up), draws the 40 digits and the 34 other drawings of docs/images (the page must be sure of
every digit and unsure of at least 80% of the rest), opens the network view, trains (pause and resume four times, a second tab, a reload
mid-run, a stop and its resume command, a run to its end), checks a 390x844 phone's layout,
runs axe-core on every tab, and stops the server under the page. Saves a screenshot of each view.

Usage: browser_test.py LENET5_BINARY SCREENSHOT_DIR
Needs Debian's chromium and chromium-driver, selenium and axe-selenium-python (pip). Exits
non-zero on any failure.
"""
import contextlib
import json
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
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select
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


def draw(driver, canvas, strokes, pointer="pen"):
    """Traces each stroke with a pen or touch pointer (pointerdown, pointermove..., pointerup)."""
    box = canvas.rect
    kind = interaction.POINTER_TOUCH if pointer == "touch" else interaction.POINTER_PEN
    for stroke in strokes:
        builder = ActionBuilder(driver, mouse=PointerInput(kind, pointer), duration=10)
        pen = builder.pointer_action
        start = stroke[0]
        pen.move_to(canvas, int(start[0] - box["width"] / 2), int(start[1] - box["height"] / 2))
        pen.pointer_down()
        for x, y in stroke[1:]:
            pen.move_to(canvas, int(x - box["width"] / 2), int(y - box["height"] / 2))
        pen.pointer_up()
        builder.perform()


class Server:
    """`binary serve` on a free port with a throwaway runs folder, which can be stopped and
    started again on the same port (the page must notice both)."""

    def __init__(self, binary):
        self.binary = binary
        self.runs = tempfile.mkdtemp(prefix="browser-runs-")
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.process = None

    def start(self):
        self.process = subprocess.Popen([self.binary, "serve", "--port", str(self.port), "--runs", self.runs], stdout=subprocess.DEVNULL)
        wait_for_server(self.url)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@contextlib.contextmanager
def serve(binary):
    """Runs `binary serve`; yields its URL once it answers, and stops it afterwards (its errors
    go to our stderr)."""
    with serving(binary) as server:
        yield server.url


@contextlib.contextmanager
def serving(binary):
    server = Server(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.runs, ignore_errors=True)


def chromium(phone=False):
    """Headless Chromium: a 1280x1000 desktop window, or a 390x844 phone with touch."""
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
        options.add_argument(argument)
    if phone:
        options.add_experimental_option("mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 2, "touch": True}})
    if shutil.which("chromium"):
        options.binary_location = shutil.which("chromium")
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def main():
    binary, shots = sys.argv[1], sys.argv[2]
    os.makedirs(shots, exist_ok=True)
    failures = []
    with serving(binary) as server:
        for check in [check_drawing, check_nondigits, check_correcting, check_network, check_training, check_phone, check_accessibility, check_offline]:
            print("==", check.__doc__.strip().splitlines()[0])
            failures += run_check(check, server, shots)
    for failure in failures:
        print("FAILED:", failure)
    print("browser: %d failed" % len(failures))
    sys.exit(1 if failures else 0)


def run_check(check, server, shots):
    """Runs one check with fresh browsers; an exception (a timeout, a missing element) is a failure."""
    failures = []
    drivers = []

    def browser(phone=False):
        driver = chromium(phone)
        drivers.append(driver)
        driver.get(server.url)
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
        return driver

    try:
        check(browser, server, shots, failures)
    except Exception as error:
        failures.append("%s: %s: %s" % (check.__name__, type(error).__name__, error))
        if drivers:
            drivers[-1].save_screenshot(os.path.join(shots, "failure-%s.png" % check.__name__))
    finally:
        for driver in drivers:
            driver.quit()
    return failures


def text(driver, id):
    return driver.find_element(By.ID, id).text


def tab(driver, name):
    driver.find_element(By.ID, "tab-" + name).click()


# Records when each pointer leaves the pad and when the answer's label last changed, for the
# pen-up latency measured from outside the page's own code.
WATCH = """
window.__watch = { up: null, changed: null };
document.getElementById("sketch").addEventListener("pointerup", () => { window.__watch.up = performance.now(); }, true);
new MutationObserver(() => { window.__watch.changed = performance.now(); })
  .observe(document.getElementById("timing"), { childList: true, characterData: true, subtree: true });
"""


def settled(driver):
    return driver.execute_script("return !state.inFlight && !state.again && timer === null")


def draw_and_read(driver, strokes, pointer="pen"):
    """Clears the pad, draws, waits for the page to settle; returns the answer shown and the
    milliseconds from the last pen-up to the last change of the answer."""
    # The button's own click: emulated taps right after a touch drawing are sometimes lost by
    # the driver, and the next drawing would land on the last one.
    driver.execute_script("document.getElementById('clear').click()")
    WebDriverWait(driver, 10).until(lambda d: settled(d) and d.execute_script("return state.strokes.length === 0"))
    driver.execute_script("window.__watch.up = null; window.__watch.changed = null;")
    draw(driver, driver.find_element(By.ID, "sketch"), strokes, pointer)
    WebDriverWait(driver, 10).until(lambda d: settled(d) and d.execute_script("return window.__watch.changed !== null && window.__watch.changed > window.__watch.up"))
    time.sleep(0.1)
    WebDriverWait(driver, 10).until(settled)
    latency = driver.execute_script("return window.__watch.changed - window.__watch.up")
    return text(driver, "guess"), latency


def check_drawing(browser, server, shots, failures):
    """Drawing: digits read right, and the answer follows the pen (desktop pen, phone touch)."""
    for phone in [False, True]:
        driver = browser(phone)
        driver.execute_script(WATCH)
        if text(driver, "guess") != "draw a digit":
            failures.append("an empty pad shows %r instead of 'draw a digit'" % text(driver, "guess"))
        latencies = []
        for name, strokes, expected in [("seven", seven(), "7"), ("zero", zero(), "0"), ("three", three(), "3")]:
            shown, latency = draw_and_read(driver, strokes, "touch" if phone else "pen")
            latencies.append(latency)
            print("%s: drew a %s, the page says %s, %.0f ms after pen-up (%s)" % ("phone" if phone else "desktop", name, shown, latency, text(driver, "timing")))
            if shown != expected:
                failures.append("drew a %s, the page says %r" % (name, shown))
        worst = max(latencies)
        if worst > 100:
            failures.append("%s: an answer came %.0f ms after pen-up (over 100 ms)" % ("phone" if phone else "desktop", worst))
        driver.save_screenshot(os.path.join(shots, "serve-draw%s.png" % ("-phone" if phone else "")))


def check_nondigits(browser, server, shots, failures):
    """Honest about non-digits: the 40 digits and 34 other drawings of docs/images, drawn on the pad."""
    import random
    import draw_digits
    driver = browser()
    driver.execute_script(WATCH)
    rng = random.Random(1)
    digits = [("%s-%s" % (digit, style), strokes) for digit in "0123456789" for style, strokes in draw_digits.styles(digit, rng)]
    rng = random.Random(2)
    others = [(name, draw_digits.transform(strokes, tremor=2, rng=rng)) for name, strokes in draw_digits.NONDIGITS.items()]
    unsure = {}
    for group, drawings in [("digits", digits), ("not digits", others)]:
        unsure[group] = []
        for name, strokes in drawings:
            shown, _ = draw_and_read(driver, strokes)
            if shown.startswith("not sure"):
                unsure[group].append(name)
        print("%s: the page is not sure of %d of %d: %s" % (group, len(unsure[group]), len(drawings), ", ".join(unsure[group]) or "none"))
    if unsure["digits"]:
        failures.append("the page is not sure these digits are digits: %s" % unsure["digits"])
    if len(unsure["not digits"]) < 0.8 * len(others):
        failures.append("the page is not sure of only %d of %d drawings that are not digits" % (len(unsure["not digits"]), len(others)))
    driver.save_screenshot(os.path.join(shots, "serve-not-a-digit.png"))


# The strongest unit of a stage in the network view: [canvas index, x, y] of its centre, in CSS
# pixels (maps: a canvas per channel; vectors: one canvas, 20 or 14 units a row, or one row).
STRONGEST = """
const a = state.last.activations.find((s) => s.stage === arguments[0]);
const { channels, height, width } = a.shape;
const best = a.values.indexOf(Math.max(...a.values));
if (height > 1) {
  const scale = Math.max(2, Math.floor(Math.min(84, 860 / channels - 4) / height)), c = Math.floor(best / (height * width)), r = best % (height * width);
  return [c, (r % width + 0.5) * scale, (Math.floor(r / width) + 0.5) * scale];
}
if (arguments[0] === "F7" || arguments[0] === "output") return [0, (best + 0.5) * 28, 14];
const columns = channels === 120 ? 20 : 14;
return [0, (best % columns + 0.5) * 14, (Math.floor(best / columns) + 0.5) * 14];
"""


def check_correcting(browser, server, shots, failures):
    """Correct it: a digit the model misreads, taught to a private copy, then saved as a run."""
    import random
    import draw_digits
    driver = browser()
    driver.execute_script(WATCH)
    strokes = draw_digits.transform(draw_digits.UNUSUAL["1-continental"], tremor=2, rng=random.Random(3))
    shown, _ = draw_and_read(driver, strokes)
    print("a continental 1 reads:", shown)
    if shown == "1":
        failures.append("the continental 1 reads right before any correction")
    [b for b in driver.find_elements(By.CSS_SELECTOR, "#correct-buttons button") if b.text == "1"][0].click()
    WebDriverWait(driver, 60).until(lambda d: text(d, "guess") == "1" and d.find_element(By.ID, "copy-bar").is_displayed())
    print("corrected:", text(driver, "correct-status"))
    driver.save_screenshot(os.path.join(shots, "serve-correct.png"))
    driver.find_element(By.ID, "copy-save").click()
    WebDriverWait(driver, 30).until(lambda d: "saved as the run" in text(d, "correct-status"))
    picked = Select(driver.find_element(By.ID, "model")).first_selected_option.text
    WebDriverWait(driver, 10).until(lambda d: settled(d))
    print("saved:", text(driver, "correct-status"), "| picker:", picked, "| answer:", text(driver, "guess"))
    if not picked.startswith("corrected-") or text(driver, "guess") != "1":
        failures.append("after saving, the picker shows %r and the answer is %r" % (picked, text(driver, "guess")))


def check_network(browser, server, shots, failures):
    """The network view: every layer of the drawing, the kernels, a value under the pointer."""
    driver = browser()
    draw(driver, driver.find_element(By.ID, "sketch"), seven())
    WebDriverWait(driver, 10).until(lambda d: text(d, "guess") == "7")
    tab(driver, "network")
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "layer-C1") and d.find_elements(By.CSS_SELECTOR, "#filters canvas"))
    layers = [e.get_attribute("id") for e in driver.find_elements(By.CSS_SELECTOR, "#layers .layer")]
    print("network view:", ", ".join(layers))
    if layers != ["layer-" + s for s in ["input", "C1", "S2", "C3", "S4", "C5", "F6", "F7", "output"]]:
        failures.append("the network view shows %s" % layers)
    # Every kind of unit explained with its arithmetic: the sum shown is the served activation.
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return state.weights !== null && state.weights !== undefined"))
    for stage in ["C1", "S2", "C3", "S4", "C5", "F6", "F7", "output"]:
        # The unit with the largest value: which of the stage's canvases, and where in it.
        index, dx, dy = driver.execute_script(STRONGEST, stage)
        canvas = driver.find_elements(By.CSS_SELECTOR, "#layer-%s .maps canvas" % stage)[index]
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
        ActionChains(driver).move_to_element_with_offset(canvas, dx - canvas.rect["width"] / 2, dy - canvas.rect["height"] / 2).click().perform()
        WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.ID, "explain"))
        panel = driver.find_element(By.ID, "explain")
        computed, served = float(panel.get_attribute("data-computed")), float(panel.get_attribute("data-served"))
        print("explained %s: %s (computed %.6g, served %.6g)" % (stage, panel.find_element(By.TAG_NAME, "h3").text, computed, served))
        if abs(computed - served) > 1e-4 * max(1, abs(served)):
            failures.append("%s's arithmetic gives %g, the server %g" % (stage, computed, served))
        if stage == "C3":
            driver.save_screenshot(os.path.join(shots, "serve-explain.png"))
    c1 = driver.find_element(By.CSS_SELECTOR, "#layer-C1 canvas")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", c1)
    time.sleep(0.3)  # the scroll's event (which hides a tip) comes before the pointer
    ActionChains(driver).move_to_element(c1).perform()
    tip = text(driver, "tooltip")
    print("pointing at C1:", tip)
    if not tip.startswith("C1 map 0 ("):
        failures.append("pointing at a C1 cell shows %r" % tip)
    driver.save_screenshot(os.path.join(shots, "serve-network.png"))
    # The backward pass of the drawn 7 against "1": every stage's gradient, the pixels', the kernels'.
    WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.ID, "gradient-input"))
    one = [b for b in driver.find_elements(By.CSS_SELECTOR, "#targets button") if b.text == "1"][0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'start'})", driver.find_element(By.ID, "targets"))
    one.click()
    WebDriverWait(driver, 30).until(lambda d: '"1"' in text(d, "backward-hint"))
    shown = [e.get_attribute("id") for e in driver.find_elements(By.CSS_SELECTOR, "#backward .layer")]
    print("backward view, target 1:", text(driver, "backward-hint").split(".")[0], "|", ", ".join(shown))
    wanted = ["gradient-input"] + ["gradient-" + s for s in ["F7", "F6", "C5", "S4", "C3", "S2", "C1"]] + ["gradient-kernels-C1", "gradient-kernels-C3"]
    if shown != wanted:
        failures.append("the backward view shows %s" % shown)
    driver.save_screenshot(os.path.join(shots, "serve-backward.png"))


def training_status(server):
    with urllib.request.urlopen(server.url + "/api/train", timeout=10) as response:
        return json.load(response)


def buttons(driver):
    return {name: driver.find_element(By.ID, name).is_enabled() for name in ["start", "pause", "resume", "stop"]}


def check_training(browser, server, shots, failures):
    """Training: buttons follow the run, a second tab attaches, a reload keeps every point, a stop
    gives the real resume command, a finished run joins the picker without becoming the default."""
    early = browser()
    tab(early, "train")
    driver = browser()
    tab(driver, "train")
    # The empty fields show the chosen preset's recipe, as the server runs it.
    preset = Select(driver.find_element(By.NAME, "preset"))
    placeholders = lambda: {name: driver.find_element(By.NAME, name).get_attribute("placeholder")
                            for name in ["epochs", "learningRate", "schedule", "labelSmoothing", "augment", "trainingImages"]}
    for name, wanted in [
        ("best", {"epochs": "30", "learningRate": "0.05", "schedule": "one-cycle", "labelSmoothing": "0.1", "augment": "light", "trainingImages": "all 60,000"}),
        ("original", {"epochs": "20", "learningRate": "0.05", "schedule": "original", "labelSmoothing": "0", "augment": "none", "trainingImages": "all 55,000"}),
        ("fast", {"epochs": "8", "learningRate": "0.07", "schedule": "one-cycle", "labelSmoothing": "0.1", "augment": "none", "trainingImages": "all 55,000"}),
    ]:
        preset.select_by_value(name)
        WebDriverWait(driver, 10).until(lambda d: placeholders()["epochs"] == wanted["epochs"])
        if placeholders() != wanted:
            failures.append("preset %s shows %s" % (name, placeholders()))
    print("the empty fields follow the preset: fast shows", placeholders())
    driver.find_element(By.NAME, "epochs").send_keys("0")
    driver.find_element(By.ID, "start").click()
    WebDriverWait(driver, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, ".error[data-for=epochs]").text)
    print("epochs 0 is refused beside the field:", driver.find_element(By.CSS_SELECTOR, ".error[data-for=epochs]").text)
    epochs = driver.find_element(By.NAME, "epochs")
    epochs.clear()
    epochs.send_keys("30")
    driver.find_element(By.ID, "start").click()
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return run.accuracy.length") >= 1)
    floor = driver.execute_script("return run.lossFloor")
    print("the loss chart's floor, label smoothing 0.1's:", floor)
    if not 0.49 < floor < 0.51:
        failures.append("the loss chart's floor is %r, not 0.50" % floor)
    # The tab opened before the run started follows it.
    WebDriverWait(early, 10).until(lambda d: buttons(d)["stop"])
    print("the tab opened first:", text(early, "train-message"))
    if buttons(early) != {"start": False, "pause": True, "resume": False, "stop": True}:
        failures.append("the tab opened before the run shows buttons %s" % buttons(early))
    for attempt in range(4):
        for action, wanted, enabled in [("pause", "paused", "resume"), ("resume", "running", "pause")]:
            driver.find_element(By.ID, action).click()
            WebDriverWait(driver, 30).until(lambda d: buttons(d)[enabled])
            shown = buttons(driver)
            state = training_status(server)["state"]
            expected = {"start": False, "pause": wanted == "running", "resume": wanted == "paused", "stop": True}
            if state != wanted or shown != expected:
                failures.append("after %s (try %d) the server says %s and the buttons are %s" % (action, attempt + 1, state, shown))
            if action == "pause":
                progress = text(driver, "progress-text")
                if "left" in progress:
                    failures.append("paused, the progress still counts time left: %r" % progress)
    print("pause and resume, 4 times each: buttons followed the server")
    # A reload mid-run: every epoch point and the sampled losses come back, "started" once.
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return run.accuracy.length") >= 2)
    driver.find_element(By.ID, "pause").click()
    WebDriverWait(driver, 30).until(lambda d: buttons(d)["resume"])
    status = training_status(server)
    epochs_done = sum(1 for e in status["events"] if e["type"] == "epoch")
    batches = sum(1 for e in status["events"] if e["type"] == "batch")
    driver.refresh()
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return run.accuracy.length") == epochs_done)
    tab(driver, "train")
    shown = driver.execute_script("return [run.accuracy.length, run.losses.length]")
    print("reloaded while paused after %d epochs: %d epoch points, %d of %d loss samples, message %r" % (epochs_done, shown[0], shown[1], batches, text(driver, "train-message")))
    if shown != [epochs_done, batches]:
        failures.append("after a reload the page shows %s epoch points and losses of %s" % (shown, [epochs_done, batches]))
    if buttons(driver) != {"start": False, "pause": False, "resume": True, "stop": True} or "paused" not in text(driver, "train-message"):
        failures.append("a reload of a paused run shows %s and %r" % (buttons(driver), text(driver, "train-message")))
    driver.save_screenshot(os.path.join(shots, "serve-train-paused.png"))
    driver.find_element(By.ID, "stop").click()
    WebDriverWait(driver, 30).until(lambda d: buttons(d)["start"])
    message, progress = text(driver, "train-message"), text(driver, "progress-text")
    print("stopped:", message, "|", progress)
    run = training_status(server)["run"]
    command = "swift run -c release lenet5 train --resume %s/%s/resume.safetensors" % (server.runs, run)
    if command not in message or "left" in progress:
        failures.append("after a stop the page says %r / %r" % (message, progress))
    # A short run to its end: its model joins the picker; the visitor's choice stands.
    picker = Select(driver.find_element(By.ID, "model"))
    for name, value in [("epochs", "2"), ("trainingImages", "3000")]:
        field = driver.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)
    driver.find_element(By.ID, "start").click()
    WebDriverWait(driver, 180).until(lambda d: "final test accuracy" in text(d, "train-message"))
    print(text(driver, "train-message"))
    if len(driver.find_elements(By.CSS_SELECTOR, "#sample .digit")) != 40:
        failures.append("the grid of test digits is not there")
    # The confusion matrix of the last epoch: its diagonal is the test set's right answers.
    last = [e for e in training_status(server)["events"] if e["type"] == "epoch"][-1]["data"]
    diagonal = driver.execute_script("return [...document.querySelectorAll('table.confusion tr')].slice(1).map((r, t) => Number(r.cells[t + 1].textContent))")
    print("confusion matrix after epoch %d: %d right on the diagonal, the test says %d" % (last["epoch"], sum(diagonal), last["test"]["correct"]))
    if sum(diagonal) != last["test"]["correct"]:
        failures.append("the confusion matrix's diagonal sums to %d, the epoch's test %d" % (sum(diagonal), last["test"]["correct"]))
    changed = len(driver.find_elements(By.CSS_SELECTOR, "#sample .digit.changed"))
    print("test digits whose guess changed in the last epoch:", changed)
    driver.save_screenshot(os.path.join(shots, "serve-train.png"))
    WebDriverWait(driver, 10).until(lambda d: any(o.text.startswith("web-") for o in Select(d.find_element(By.ID, "model")).options))
    options = [o.text for o in picker.options]
    print("models:", options, "chosen:", picker.first_selected_option.text)
    if not picker.first_selected_option.text.startswith("bundled"):
        failures.append("the finished run took over the picker: %s" % picker.first_selected_option.text)


def visible_targets(driver):
    return driver.execute_script("""
        return [...document.querySelectorAll("button, select, input, .tab")]
          .filter((e) => e.offsetParent !== null && e.type !== "hidden")
          .map((e) => { const r = e.getBoundingClientRect(); return [e.id || e.name || e.textContent.trim(), r.width, r.height]; });""")


def check_phone(browser, server, shots, failures):
    """A phone (390x844, touch): pad and answer on one screen, no sideways scrolling, 44 px targets."""
    driver = browser(phone=True)
    driver.execute_script(WATCH)
    draw_and_read(driver, seven(), "touch")
    pad = driver.find_element(By.ID, "sketch").rect
    guess = driver.find_element(By.ID, "guess").rect
    height = driver.execute_script("return window.innerHeight")
    print("phone: pad %d..%d px, answer %d..%d px, screen %d px" % (pad["y"], pad["y"] + pad["height"], guess["y"], guess["y"] + guess["height"], height))
    if pad["y"] + pad["height"] > height or guess["y"] + guess["height"] > height:
        failures.append("on a phone the pad or the answer is below the fold")
    for name in ["draw", "network", "train"]:
        tab(driver, name)
        time.sleep(0.3)
        width = driver.execute_script("return document.documentElement.scrollWidth")
        small = [t for t in visible_targets(driver) if t[1] < 44 or t[2] < 44]
        print("phone, %s tab: %d px wide, %d targets under 44 px" % (name, width, len(small)))
        if width > 390:
            failures.append("the %s tab is %d px wide on a 390 px phone" % (name, width))
        if small:
            failures.append("on the %s tab targets under 44 px: %s" % (name, small))
        if name == "network":
            WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#layer-C1 canvas"))
            cell = driver.find_element(By.CSS_SELECTOR, "#layer-C1 canvas")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
            time.sleep(0.3)
            tap = ActionBuilder(driver, mouse=PointerInput(interaction.POINTER_TOUCH, "finger"))
            tap.pointer_action.move_to(cell, 5, 5).pointer_down().pointer_up()
            tap.perform()
            if not text(driver, "tooltip").startswith("C1 map 0"):
                failures.append("a tap on a C1 cell shows %r" % text(driver, "tooltip"))
            else:
                print("a tap on C1 shows:", text(driver, "tooltip"))
            driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(os.path.join(shots, "serve-%s-phone.png" % name))


def check_accessibility(browser, server, shots, failures):
    """Accessibility: axe-core on every tab, desktop and phone; tabs move with the arrow keys."""
    from axe_selenium_python import Axe
    for phone in [False, True]:
        driver = browser(phone)
        axe = Axe(driver)
        axe.inject()
        for name in ["draw", "network", "train"]:
            tab(driver, name)
            time.sleep(0.3)
            results = axe.run()
            bad = [v for v in results["violations"] if v["impact"] in ("serious", "critical")]
            print("axe-core %s, %s tab: %d violations (%d serious or critical), %d rules passed" % (
                "phone" if phone else "desktop", name, len(results["violations"]), len(bad), len(results["passes"])))
            for v in results["violations"]:
                print("   %s (%s): %s" % (v["id"], v["impact"], ", ".join(n["target"][0] for n in v["nodes"][:4])))
            failures += ["axe-core, %s tab: %s (%s)" % (name, v["id"], v["impact"]) for v in bad]
    driver.find_element(By.ID, "tab-draw").click()
    driver.find_element(By.ID, "tab-draw").send_keys(Keys.ARROW_RIGHT)
    focused = driver.execute_script("return [document.activeElement.id, document.activeElement.getAttribute('aria-selected')]")
    if focused != ["tab-network", "true"] or not driver.find_element(By.ID, "network").is_displayed():
        failures.append("the right arrow on the Draw tab went to %s" % focused)


def check_offline(browser, server, shots, failures):
    """A server that goes away: one banner, controls disabled; back by itself when it returns."""
    driver = browser()
    draw(driver, driver.find_element(By.ID, "sketch"), seven())
    WebDriverWait(driver, 10).until(lambda d: text(d, "guess") == "7")
    server.stop()
    WebDriverWait(driver, 15).until(lambda d: d.find_element(By.ID, "offline").is_displayed())
    draw(driver, driver.find_element(By.ID, "sketch"), zero())
    time.sleep(0.5)
    disabled = [e for e in ["clear", "undo", "model", "start"] if driver.find_element(By.ID, e).is_enabled()]
    strokes = driver.execute_script("return state.strokes.length")
    print("server gone: banner %r, the answer %r, still enabled: %s, strokes on the pad %d" % (text(driver, "offline"), text(driver, "guess"), disabled, strokes))
    if disabled:
        failures.append("with the server gone %s stay enabled" % disabled)
    if strokes != len(seven()):
        failures.append("with the server gone the pad took a drawing it cannot answer (%d strokes)" % strokes)
    if len(driver.find_elements(By.CSS_SELECTOR, "#offline")) != 1 or "Failed" in text(driver, "guess"):
        failures.append("with the server gone the page shows %r" % text(driver, "guess"))
    driver.save_screenshot(os.path.join(shots, "serve-offline.png"))
    server.start()
    WebDriverWait(driver, 30).until(lambda d: not d.find_element(By.ID, "offline").is_displayed())
    print("the server came back; the banner went by itself")
    if not driver.find_element(By.ID, "start").is_enabled():
        failures.append("after the server came back Start stays disabled")


if __name__ == "__main__":
    main()

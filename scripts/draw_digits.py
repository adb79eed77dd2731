#!/usr/bin/env python3
"""Writes digits by hand on `lenet5 serve`'s drawing pad, in headless Chromium, and saves each as
the PNG the pad holds: docs/images/drawn/<digit>-<style>.png, four styles of each digit, and all
of them on one sheet, docs/images/drawn.png; then drawings that are not digits (NONDIGITS: taps,
scribbles, letters, shapes) as docs/images/nondigits/<name>.png and docs/images/nondigits.png,
and digits in unusual styles the bundled model misreads (UNUSUAL) as docs/images/unusual/.

The strokes are written out below as a person draws them, one pointer path per stroke, in
four styles per digit: upright and centred; slanted and off-centre at another size; another
common way of writing the digit (a 1 with a flag and a base, a crossed 7, a looped 2, ...);
and that one hurried: small, far off-centre, slanted hard and shaky. Each point is moved by a
random tremor (seeded, so the files are reproducible). lenet5Tests/PredictTests checks that the
model `lenet5 serve` bundles reads every one.

Usage: draw_digits.py LENET5_BINARY [OUTPUT_DIR]
Needs Debian's chromium and chromium-driver, and selenium (pip).
"""
import base64
import math
import os
import random
import sys
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from browser_test import chromium, draw, serve


def arc(cx, cy, rx, ry, start, end, steps=24):
    """Points along an ellipse from angle `start` to `end` (degrees, 0 at the top, clockwise)."""
    return [(cx + rx * math.sin(math.radians(start + (end - start) * t / steps)),
             cy - ry * math.cos(math.radians(start + (end - start) * t / steps))) for t in range(steps + 1)]


# Each digit's strokes in a 280x280 box, upright; the styles below transform them.
PLAIN = {
    "0": [arc(140, 140, 60, 90, 0, 360, 40)],
    "1": [[(140, 50), (140, 230)]],
    "2": [arc(140, 100, 55, 50, -80, 120) + [(85, 230), (200, 230)]],
    "3": [arc(135, 95, 55, 45, -90, 180) + arc(135, 185, 60, 50, 0, 220)[1:]],
    "4": [[(170, 50), (80, 170), (210, 170)], [(170, 90), (170, 235)]],
    "5": [[(195, 55), (100, 55), (92, 130)] + arc(140, 170, 60, 55, -45, 230)[1:]],
    "6": [[(180, 55), (130, 100), (95, 160)] + arc(140, 180, 50, 50, 250, 610, 36)],
    "7": [[(80, 55), (200, 55), (160, 130), (130, 230)]],
    "8": [arc(140, 95, 45, 45, 180, 540, 32) + arc(140, 185, 55, 50, 0, -360, 32)[1:]],
    "9": [arc(140, 100, 50, 48, 90, 450, 32), [(190, 100), (180, 170), (160, 235)]],
}

# Other common ways of writing each digit.
OTHER = {
    "0": [arc(140, 140, 75, 80, 20, 380, 40)],
    "1": [[(105, 85), (145, 50), (145, 230)], [(105, 230), (185, 230)]],
    "2": [arc(140, 95, 55, 45, -90, 140) + [(95, 215), (110, 200), (135, 205), (130, 230), (100, 225), (205, 230)]],
    "3": [[(85, 55), (195, 55), (130, 125)] + arc(135, 175, 60, 55, -30, 220)[1:]],
    "4": [[(160, 50), (85, 160), (205, 160)], [(160, 50), (160, 235)]],
    "5": [[(100, 55), (92, 130)] + arc(140, 170, 60, 55, -45, 230)[1:], [(100, 55), (200, 55)]],
    "6": [arc(150, 150, 60, 95, 40, -180, 24) + arc(145, 195, 45, 45, -180, -500, 32)[1:]],
    "7": [[(75, 60), (205, 60), (140, 235)], [(110, 150), (190, 150)]],
    "8": [arc(140, 95, 40, 40, 0, 360, 28), arc(140, 180, 52, 50, 0, 360, 32)],
    "9": [arc(140, 100, 55, 50, 80, 440, 32), [(195, 100), (195, 235)]],
}


def line(*points, steps=6):
    """A polyline with points in between (a pen reports many), through `points`."""
    out = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        out += [(x0 + (x1 - x0) * t / steps, y0 + (y1 - y0) * t / steps) for t in range(1, steps + 1)]
    return out


def zigzag(x0, x1, y0, y1, turns):
    return line(*[(x0 + (x1 - x0) * k / turns, y0 if k % 2 == 0 else y1) for k in range(turns + 1)], steps=3)


# Drawings that are not digits, as people make them on a pad: taps, scribbles, letters and
# shapes. (No plain circle, bar or hook: those are a 0, a 1 or a 7 as MNIST writes them.)
NONDIGITS = {
    "tap": [[(140, 140)]],
    "tap-corner": [[(60, 70)]],
    "two-taps": [[(100, 140)], [(180, 140)]],
    "three-taps": [[(90, 90)], [(190, 110)], [(130, 200)]],
    "dash": [line((110, 140), (170, 140))],
    "scribble": [zigzag(60, 220, 80, 200, 9)],
    "tangle": [[(140 + 80 * math.sin(1.7 * t) * math.cos(0.37 * t), 140 + 80 * math.sin(1.1 * t + 1)) for t in [k / 4 for k in range(80)]]],
    "spiral": [[(140 + 4 * t * math.sin(t / 3), 140 - 4 * t * math.cos(t / 3)) for t in range(24)]],
    "hatching": [line((60 + 30 * k, 230), (110 + 30 * k, 60)) for k in range(5)],
    "wave": [[(40 + 5 * k, 140 + 40 * math.sin(k / 5)) for k in range(41)]],
    "letter-A": [line((80, 230), (140, 50), (200, 230)), line((105, 160), (175, 160))],
    "letter-E": [line((190, 55), (95, 55), (95, 225), (190, 225)), line((95, 140), (170, 140))],
    "letter-F": [line((190, 55), (100, 55), (100, 230)), line((100, 140), (170, 140))],
    "letter-H": [line((85, 50), (85, 230)), line((195, 50), (195, 230)), line((85, 140), (195, 140))],
    "letter-K": [line((95, 50), (95, 230)), line((190, 55), (95, 150), (195, 230))],
    "letter-M": [line((65, 230), (85, 50), (140, 170), (195, 50), (215, 230))],
    "letter-N": [line((85, 230), (85, 50), (195, 230), (195, 50))],
    "letter-R": [line((95, 230), (95, 50)) + arc(120, 95, 55, 45, -90, 180)[1:] + line((95, 140), (190, 230))[1:]],
    "letter-W": [line((50, 60), (95, 225), (140, 110), (185, 225), (230, 60))],
    "letter-X": [line((80, 60), (200, 225)), line((200, 60), (80, 225))],
    "letter-e": [line((85, 150), (195, 150)) + arc(140, 150, 55, 60, 90, -230, 30)[1:]],
    "square": [line((75, 75), (205, 75), (205, 205), (75, 205), (75, 75))],
    "triangle": [line((140, 55), (225, 215), (55, 215), (140, 55))],
    "star": [line(*[(140 + 95 * math.sin(math.radians(144 * k)), 145 - 95 * math.cos(math.radians(144 * k))) for k in range(6)])],
    "heart": [arc(105, 105, 38, 38, -90, 90, 12) + arc(175, 105, 38, 38, -90, 90, 12)[1:] + line((213, 105), (140, 225), (67, 105))[1:]],
    "smiley": [arc(140, 140, 100, 100, 0, 360, 40), [(105, 110)], [(175, 110)], arc(140, 150, 50, 40, 110, 250, 12)],
    "plus": [line((140, 55), (140, 225)), line((55, 140), (225, 140))],
    "arrow": [line((50, 140), (225, 140)), line((175, 90), (225, 140), (175, 190))],
    "check": [line((60, 150), (115, 215), (225, 60))],
    "hash": [line((110, 50), (95, 230)), line((185, 50), (170, 230)), line((55, 105), (225, 105)), line((50, 175), (220, 175))],
    "grid": [line((60, 60 + 40 * k), (220, 60 + 40 * k)) for k in range(5)] + [line((60 + 40 * k, 60), (60 + 40 * k, 220)) for k in range(5)],
    "crossed-circle": [arc(140, 140, 85, 85, 0, 360, 40), line((80, 80), (200, 200)), line((200, 80), (80, 200))],
    "house": [line((70, 230), (70, 130), (140, 60), (210, 130), (210, 230), (70, 230))],
    "cloud": [arc(95, 160, 40, 40, 180, 360, 12) + arc(140, 120, 50, 50, -90, 90, 14)[1:] + arc(190, 160, 40, 40, 0, 180, 12)[1:] + line((190, 200), (95, 200))[1:]],
}


def mirrored(strokes):
    return [[(280 - x, y) for x, y in stroke] for stroke in strokes]


def turned(strokes, degrees):
    a = math.radians(degrees)
    return [[(140 + (x - 140) * math.cos(a) - (y - 140) * math.sin(a), 140 + (x - 140) * math.sin(a) + (y - 140) * math.cos(a))
             for x, y in stroke] for stroke in strokes]


def flattened(strokes):
    return [[(140 + (x - 140) * 1.6, 140 + (y - 140) * 0.45) for x, y in stroke] for stroke in strokes]


# Digits written in ways MNIST's writers rarely did, each of which the bundled model misreads:
# what the page's "correct it" is measured on (docs/images/unusual).
UNUSUAL = {
    "1-continental": [line((60, 120), (150, 50), (150, 235))],
    "2-crossed": [line((80, 60), (200, 60), (80, 230), (200, 230)), line((100, 145), (180, 145))],
    "3-reversed": mirrored(PLAIN["3"]),
    "3-flat": flattened(PLAIN["3"]),
    "4-tilted": turned(PLAIN["4"], 40),
    "6-digital": [line((190, 55), (90, 55), (90, 225), (200, 225), (200, 140), (90, 140))],
    "6-tilted": turned(PLAIN["6"], 40),
    "7-reversed": mirrored(PLAIN["7"]),
    "8-flat": flattened(PLAIN["8"]),
    "9-reversed": mirrored(PLAIN["9"]),
}


def transform(strokes, slant=0.0, scale=1.0, dx=0.0, dy=0.0, tremor=0.0, rng=None):
    """Slants (x moves by slant times the height above the centre), scales about the centre,
    shifts, and moves each point by up to `tremor` pixels."""
    out = []
    for stroke in strokes:
        points = []
        for x, y in stroke:
            x, y = x + slant * (140 - y), y
            x, y = 140 + scale * (x - 140) + dx, 140 + scale * (y - 140) + dy
            if tremor and rng:
                x, y = x + rng.uniform(-tremor, tremor), y + rng.uniform(-tremor, tremor)
            points.append((min(max(x, 2), 277), min(max(y, 2), 277)))
        out.append(points)
    return out


def styles(digit, rng):
    yield "upright", transform(PLAIN[digit], tremor=2, rng=rng)
    yield "slanted", transform(PLAIN[digit], slant=0.3, scale=0.7, dx=-30, dy=25, tremor=2, rng=rng)
    yield "other", transform(OTHER[digit], slant=-0.1, scale=0.9, dx=15, tremor=3, rng=rng)
    yield "hurried", transform(OTHER[digit], slant=0.55, scale=0.6, dx=50, dy=-45, tremor=6, rng=rng)


# Lays out rows of PNG data URLs as 70-pixel tiles on a gray background; returns a data URL.
SHEET = """
const [rows, done] = arguments;
const tile = 70, gap = 4;
const c = document.createElement("canvas");
c.width = 10 * (tile + gap) + gap;
c.height = rows.length * (tile + gap) + gap;
const g = c.getContext("2d");
g.fillStyle = "#9aa3b2";
g.fillRect(0, 0, c.width, c.height);
const images = rows.flat().map((url) => new Promise((resolve) => { const i = new Image(); i.onload = () => resolve(i); i.src = url; }));
Promise.all(images).then((loaded) => {
  loaded.forEach((image, k) => g.drawImage(image, gap + (k % 10) * (tile + gap), gap + Math.floor(k / 10) * (tile + gap), tile, tile));
  done(c.toDataURL("image/png"));
});
"""


def save(data_url, path):
    with open(path, "wb") as f:
        f.write(base64.b64decode(data_url.split(",", 1)[1]))
    print("wrote", os.path.relpath(path))


def main():
    binary = sys.argv[1]
    output = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "docs", "images", "drawn")
    os.makedirs(output, exist_ok=True)
    with serve(binary) as url:
        driver = chromium()
        try:
            driver.get(url)
            WebDriverWait(driver, 60).until(lambda d: d.find_element(By.CSS_SELECTOR, "#model option"))
            draw_all(driver, output)
        finally:
            driver.quit()


def draw_all(driver, output):
    """Draws every digit in every style on the pad, saving each, then the sheet of them all."""
    canvas = driver.find_element(By.ID, "sketch")
    rng = random.Random(1)
    drawings = {}
    for digit in "0123456789":
        for style, strokes in styles(digit, rng):
            driver.find_element(By.ID, "clear").click()
            draw(driver, canvas, strokes)
            time.sleep(0.2)
            drawings[(digit, style)] = driver.execute_script("return document.getElementById('sketch').toDataURL('image/png')")
            save(drawings[(digit, style)], os.path.join(output, "%s-%s.png" % (digit, style)))
    # All of them on one sheet, a row per style, drawn by the browser too.
    rows = [[drawings[(digit, style)] for digit in "0123456789"] for style in ["upright", "slanted", "other", "hurried"]]
    save(driver.execute_async_script(SHEET, rows), os.path.join(output, "..", "drawn.png"))
    # The drawings that are not digits, with the same tremor, in a folder beside.
    others = os.path.join(output, "..", "nondigits")
    os.makedirs(others, exist_ok=True)
    rng = random.Random(2)
    pictures = []
    for name, strokes in NONDIGITS.items():
        driver.find_element(By.ID, "clear").click()
        draw(driver, canvas, transform(strokes, tremor=2, rng=rng))
        time.sleep(0.2)
        pictures.append(driver.execute_script("return document.getElementById('sketch').toDataURL('image/png')"))
        save(pictures[-1], os.path.join(others, "%s.png" % name))
    save(driver.execute_async_script(SHEET, [pictures[k:k + 10] for k in range(0, len(pictures), 10)]), os.path.join(others, "..", "nondigits.png"))
    # Digits in unusual styles, in a folder of their own.
    unusual = os.path.join(output, "..", "unusual")
    os.makedirs(unusual, exist_ok=True)
    rng = random.Random(3)
    pictures = []
    for name, strokes in UNUSUAL.items():
        driver.find_element(By.ID, "clear").click()
        draw(driver, canvas, transform(strokes, tremor=2, rng=rng))
        time.sleep(0.2)
        pictures.append(driver.execute_script("return document.getElementById('sketch').toDataURL('image/png')"))
        save(pictures[-1], os.path.join(unusual, "%s.png" % name))
    save(driver.execute_async_script(SHEET, [pictures]), os.path.join(unusual, "..", "unusual.png"))

if __name__ == "__main__":
    main()

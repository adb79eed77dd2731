#!/usr/bin/env python3
"""Draws the figures of docs/how-it-works.md as SVG into docs/images/how-it-works/.

    python3 scripts/figures.py

The numbers in them are the worked examples' (WorkedExampleTests asserts each); the kernel
names are the functions that run. Standard library only.
"""
import os
from html import escape

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "images", "how-it-works")

INK = "#1f2933"
MUTED = "#52606d"
FORWARD = "#2f6fb3"      # activations, forward arrows
GRADIENT = "#c2571a"     # gradients, backward arrows
PALE_F = "#dbe8f6"
PALE_G = "#fbe3d3"
DEAD = "#e4e7eb"
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"


class Svg:
    def __init__(self, width, height, title):
        self.width, self.height = width, height
        self.parts = [
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
            f"role='img' aria-label='{escape(title, quote=True)}'>",
            f"<title>{escape(title)}</title>",
            "<defs>"
            + "".join(
                f"<marker id='arrow-{name}' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' orient='auto-start-reverse'>"
                f"<path d='M0,0 L10,5 L0,10 z' fill='{color}'/></marker>"
                for name, color in (("f", FORWARD), ("g", GRADIENT), ("m", MUTED)))
            + "</defs>",
            f"<rect width='{width}' height='{height}' fill='white'/>",
        ]

    def rect(self, x, y, w, h, fill="none", stroke=INK, width=1, dash=None, rx=0):
        extra = f" stroke-dasharray='{dash}'" if dash else ""
        self.parts.append(
            f"<rect x='{x}' y='{y}' width='{w}' height='{h}' rx='{rx}' fill='{fill}' stroke='{stroke}' stroke-width='{width}'{extra}/>")

    def text(self, x, y, s, size=13, color=INK, anchor="middle", weight="normal", mono=False, italic=False):
        family = "font-family='DejaVu Sans Mono, Menlo, Consolas, monospace'" if mono else FONT
        style = " font-style='italic'" if italic else ""
        self.parts.append(
            f"<text x='{x}' y='{y}' {family} font-size='{size}' fill='{color}' text-anchor='{anchor}' "
            f"font-weight='{weight}'{style}>{escape(s)}</text>")

    def line(self, x1, y1, x2, y2, color=INK, width=1.5, arrow=None, dash=None):
        marker = f" marker-end='url(#arrow-{arrow})'" if arrow else ""
        extra = f" stroke-dasharray='{dash}'" if dash else ""
        self.parts.append(
            f"<line x1='{x1}' y1='{y1}' x2='{x2}' y2='{y2}' stroke='{color}' stroke-width='{width}'{marker}{extra}/>")

    def grid(self, x, y, values, cell=30, fills=None, strokes=None, size=13, color=INK):
        """A matrix of numbers, row by row; fills[r][c] and strokes[r][c] optional."""
        for r, row in enumerate(values):
            for c, v in enumerate(row):
                fill = fills[r][c] if fills else "white"
                self.rect(x + c * cell, y + r * cell, cell, cell, fill=fill, stroke="#9aa5b1")
                if strokes and strokes[r][c]:
                    self.rect(x + c * cell + 1.5, y + r * cell + 1.5, cell - 3, cell - 3, stroke=strokes[r][c], width=2.5)
                self.text(x + c * cell + cell / 2, y + r * cell + cell / 2 + size * 0.36, fmt(v), size=size, color=color)

    def save(self, name):
        self.parts.append("</svg>")
        path = os.path.join(OUT, name)
        with open(path, "w") as f:
            f.write("\n".join(self.parts) + "\n")
        print("wrote", os.path.relpath(path))


def fmt(v):
    if isinstance(v, str):
        return v
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def network():
    """The stages with their shapes, and the kernel that computes each, forward and backward."""
    stages = [
        # name, centre x, maps, side drawn (px; 0: a vector, drawn as a bar), output shape
        ("input", 70, 1, 64, "1 x 32 x 32"),
        ("C1", 205, 6, 56, "6 x 28 x 28"),
        ("S2", 335, 6, 28, "6 x 14 x 14"),
        ("C3", 450, 16, 20, "16 x 10 x 10"),
        ("S4", 560, 16, 10, "16 x 5 x 5"),
        ("C5", 680, 120, 0, "120"),
        ("F6", 780, 84, 0, "84"),
        ("F7", 880, 10, 0, "10"),
    ]
    svg = Svg(1080, 340, "LeNet-5's stages, their output shapes, and the kernels that compute them forward and backward")
    svg.text(20, 28, "LeNet-5: what each stage outputs for one image, and which kernel computes it", size=15, anchor="start", weight="bold")
    base = 175
    edges = []
    for name, cx, maps, side, shape in stages:
        if side:
            shown = min(maps, 6)
            step = 5 if side > 20 else 3
            width = side + (shown - 1) * step
            x = cx - width / 2
            for i in reversed(range(shown)):
                svg.rect(x + i * step, base - side - i * step, side, side, fill="#eef2f7" if name == "input" else PALE_F, stroke=FORWARD)
            top = base - side - (shown - 1) * step
        else:
            height = {120: 96, 84: 72, 10: 30}[maps]
            width, x, top = 14, cx - 7, base - height
            svg.rect(x, top, width, height, fill=PALE_F, stroke=FORWARD)
        edges.append((x, x + width))
        svg.text(cx, top - 10, name, size=14, weight="bold")
        svg.text(cx, base + 20, shape, size=12, color=MUTED)
    loss_x = 990
    svg.text(loss_x, base - 44, "softmax", size=12)
    svg.text(loss_x, base - 28, "+ loss", size=12)
    for (_, right), (left, _) in zip(edges, edges[1:] + [(loss_x - 30, 0)]):
        svg.line(right + 6, base - 6, left - 6, base - 6, color=FORWARD, arrow="f")
    # Forward kernels under the stages (C3's computes its ReLU and S4 too).
    forward = [
        (70, ["Normalization", ".fill"]),
        (205, ["directConvolution", "Forward + ReLU"]),
        (335, ["maxPoolForward"]),
        (505, ["pooledConvolutionForward", "C3, its ReLU and S4 at once"]),
        (680, ["im2col + gemm", "+ ReLU"]),
        (780, ["gemm + ReLU"]),
        (880, ["gemm"]),
        (loss_x, ["softmaxCrossEntropy"]),
    ]
    for cx, lines in forward:
        for k, s in enumerate(lines):
            svg.text(cx, base + 44 + 15 * k, s, size=11, color=FORWARD if k == 0 or cx != 505 else MUTED, mono=k == 0 or cx != 505)
    # The backward pass, right to left, and the kernels that compute it.
    y = 270
    svg.line(1050, y, 30, y, color=GRADIENT, width=2, arrow="g")
    svg.text(1050, y - 10, "backward: dL/d(output), stage by stage, right to left", size=12, color=GRADIENT, anchor="end")
    backward = [
        (265, "pooledConvolutionWeightGradient", "C1, its ReLU and S2 in one"),
        (505, "pooledConvolutionWeight/InputGradient", "C3, its ReLU and S4 in one"),
        (780, "gemm (C5: and col2im)", "C5, F6, F7 and their ReLUs"),
        (loss_x, "p - onehot", "softmax with the loss"),
    ]
    for cx, a, b in backward:
        svg.text(cx, y + 22, a, size=11, color=GRADIENT, mono=True)
        svg.text(cx, y + 38, b, size=11, color=MUTED)
    svg.save("network.svg")


def im2col():
    """The worked example: X 3x3, W 2x2, cols 4x4, Y = W cols."""
    svg = Svg(900, 280, "im2col: each output position's input patch becomes a column, so the convolution is one matrix product")
    svg.text(20, 28, "im2col + gemm: the worked example's convolution as one matrix product", size=15, anchor="start", weight="bold")
    X = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    hi = [[PALE_F if r < 2 and c < 2 else "white" for c in range(3)] for r in range(3)]
    svg.text(75, 70, "input X (3 x 3)", size=13)
    svg.grid(30, 85, X, fills=hi)
    svg.text(75, 200, "the patch of output", size=11, color=MUTED)
    svg.text(75, 214, "position (0, 0)", size=11, color=MUTED)
    svg.line(135, 130, 212, 130, color=MUTED, arrow="m")
    svg.text(172, 120, "im2col", size=12, mono=True, color=FORWARD)
    cols = [[1, 2, 4, 5], [2, 3, 5, 6], [4, 5, 7, 8], [5, 6, 8, 9]]
    fills = [[PALE_F if c == 0 else "white" for c in range(4)] for _ in range(4)]
    svg.text(330, 70, "cols (4 offsets x 4 positions)", size=13)
    svg.grid(270, 85, cols, fills=fills)
    for r, off in enumerate(["(0,0)", "(0,1)", "(1,0)", "(1,1)"]):
        svg.text(264, 85 + 30 * r + 20, off, size=11, color=MUTED, anchor="end", mono=True)
    for c, pos in enumerate(["0,0", "0,1", "1,0", "1,1"]):
        svg.text(285 + 30 * c, 222, pos, size=10, color=MUTED, mono=True)
    svg.text(330, 242, "a column per output position (y, x),", size=11, color=MUTED)
    svg.text(330, 256, "a row per kernel offset (kh, kw)", size=11, color=MUTED)
    svg.text(465, 70, "W, the 2 x 2 kernel as a row", size=13, anchor="start")
    svg.grid(465, 85, [[1, 0, -1, 2]])
    svg.text(465, 146, "Y = W · cols, the 2 x 2 output", size=13, anchor="start")
    svg.grid(465, 160, [[7, 9, 13, 15]], fills=[[PALE_F, "white", "white", "white"]])
    svg.text(465, 212, "7 = 1·1 + 0·2 + (-1)·4 + 2·5:", size=12, anchor="start", mono=True)
    svg.text(465, 228, "W times cols' first column", size=11, anchor="start", color=MUTED)
    svg.text(720, 92, "backward, the same", size=13, anchor="start", color=GRADIENT)
    svg.text(720, 108, "matrices transposed:", size=13, anchor="start", color=GRADIENT)
    svg.text(720, 136, "dW = dY · colsᵀ", size=13, anchor="start", mono=True, color=GRADIENT)
    svg.text(720, 158, "dcols = Wᵀ · dY", size=13, anchor="start", mono=True, color=GRADIENT)
    svg.text(720, 180, "dX = col2im(dcols)", size=13, anchor="start", mono=True, color=GRADIENT)
    svg.text(720, 206, "col2im adds each entry back", size=11, anchor="start", color=MUTED)
    svg.text(720, 220, "where im2col read it from", size=11, anchor="start", color=MUTED)
    svg.save("im2col.svg")


def max_pool():
    """The max-pool worked example: winners, routing, the ReLU's dead window and the tie."""
    svg = Svg(960, 290, "Max-pooling forward keeps each window's winner; backward routes the window's gradient to it")
    svg.text(20, 28, "Max-pool 2x2: forward keeps each window's winner, backward routes its gradient there", size=15, anchor="start", weight="bold")
    X = [[1, 3, 0, 0], [2, 0, 0, 0], [5, 1, 2, 2], [4, 6, 1, 0]]
    win = {(0, 1), (0, 2), (3, 1), (2, 2)}
    dead = {(0, 2)}
    strokes = [[(FORWARD if (r, c) in win and (r, c) not in dead else (MUTED if (r, c) in dead else None)) for c in range(4)] for r in range(4)]
    fills = [[(DEAD if (r < 2 and c >= 2) else "white") for c in range(4)] for r in range(4)]
    svg.text(30, 62, "X: the ReLU's output (4 x 4)", size=13, anchor="start")
    svg.grid(30, 75, X, fills=fills, strokes=strokes)
    svg.line(30, 135, 150, 135, width=2.5)
    svg.line(90, 75, 90, 195, width=2.5)
    svg.line(170, 135, 235, 135, color=FORWARD, arrow="f")
    svg.text(202, 125, "max", size=12, color=FORWARD)
    svg.text(275, 62, "Y (2 x 2)", size=13)
    svg.grid(245, 105, [[3, 0], [6, 2]], fills=[["white", DEAD], ["white", "white"]])
    svg.text(275, 190, "winners 1, 0, 3, 0", size=11, color=MUTED)
    svg.text(275, 204, "(row order in the window)", size=11, color=MUTED)
    svg.text(420, 62, "dY (2 x 2)", size=13, color=GRADIENT)
    svg.grid(390, 105, [[0.5, -1], [2, 1]], color=GRADIENT)
    svg.line(455, 135, 520, 135, color=GRADIENT, arrow="g")
    svg.text(488, 125, "route", size=12, color=GRADIENT)
    G = [[0, 0.5, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 2, 0, 0]]
    gfill = [[(PALE_G if (r, c) in win and (r, c) not in dead else "white") for c in range(4)] for r in range(4)]
    svg.text(590, 62, "dX, after the ReLU's mask", size=13, color=GRADIENT)
    svg.grid(530, 75, G, fills=gfill, color=GRADIENT)
    svg.line(530, 135, 650, 135, width=2.5)
    svg.line(590, 75, 590, 195, width=2.5)
    notes = [
        "top right: four dead ReLUs (all 0).",
        "The pool routes -1 to the first; the",
        "ReLU's mask (X > 0) stops it there.",
        "bottom right: 2 and 2 tie; the first",
        "in row order wins, in both passes.",
    ]
    for k, s in enumerate(notes):
        svg.text(680, 90 + 16 * k + (8 if k > 2 else 0), s, size=11, anchor="start", color=MUTED)
    svg.text(30, 250, "Training fuses this into the convolution's backward pass: only windows with a live winner and a gradient are visited", size=12, anchor="start")
    svg.text(30, 268, "(pooledConvolutionWeightGradient, pooledConvolutionInputGradient; next figure).", size=12, anchor="start")
    svg.save("max-pool.svg")


def pooled_backward():
    """Dense versus pooled: the convolution's weight gradient from the pool's gradient."""
    svg = Svg(960, 345, "The convolution's gradient from the pool's: only windows with a gradient are visited")
    svg.text(20, 28, "Training's convolution gradient, read from the pool's: one term per window with a gradient", size=15, anchor="start", weight="bold")
    # Dense: dY over the convolution's output, zeros but at the winners.
    dense = [[0, 0.5, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, -0.2, 0]]
    fills = [[PALE_G if v != 0 else "white" for v in row] for row in dense]
    svg.text(30, 62, "dense: dY on the convolution's 4 x 4 output", size=13, color=GRADIENT, anchor="start")
    svg.grid(30, 75, dense, fills=fills, color=GRADIENT)
    svg.line(30, 135, 150, 135, width=2.5)
    svg.line(90, 75, 90, 195, width=2.5)
    svg.text(30, 222, "dW = Σ over all 16 positions (y, x)", size=12, anchor="start", mono=True)
    svg.text(58, 240, "dY[y, x] · patch at (y, x)", size=12, anchor="start", mono=True)
    svg.text(30, 262, "16 patches read, 14 of them times 0", size=12, anchor="start", color=MUTED)
    # Pooled: the windows and their fate.
    svg.text(340, 62, "pooled: the pool's four windows and their gradients g", size=13, color=GRADIENT, anchor="start")
    rows = [
        ("window (0,0)", "g = 0.5", "winner (0,1)", "listed", INK),
        ("window (0,1)", "g = 0.7", "max 0: dead ReLU", "skipped", MUTED),
        ("window (1,0)", "g = 0", "", "skipped", MUTED),
        ("window (1,1)", "g = -0.2", "winner (3,2)", "listed", INK),
    ]
    for k, (w, g, why, fate, color) in enumerate(rows):
        y = 92 + 26 * k
        svg.text(340, y, w, size=12, anchor="start", mono=True, color=color)
        svg.text(450, y, g, size=12, anchor="start", mono=True, color=GRADIENT if color == INK else MUTED)
        svg.text(540, y, why, size=12, anchor="start", color=color)
        svg.text(700, y, fate, size=12, anchor="start", weight="bold" if fate == "listed" else "normal", color=color)
    svg.line(330, 200, 880, 200, color="#cbd2d9")
    svg.text(340, 222, "dW = Σ over the listed windows", size=12, anchor="start", mono=True)
    svg.text(368, 240, "g · patch at the window's winner", size=12, anchor="start", mono=True)
    svg.text(354, 262, "= 0.5 · patch at (0,1) - 0.2 · patch at (3,2): 2 patches read", size=12, anchor="start", mono=True)
    svg.text(340, 290, "The same sum: every term left out is a product with 0.", size=12, anchor="start")
    svg.text(340, 308, "In training about half of S2's windows and two thirds of S4's are skipped;", size=12, anchor="start", color=MUTED)
    svg.text(340, 326, "dX likewise: each listed window adds g times the kernel onto the patch at its winner.", size=12, anchor="start", color=MUTED)
    svg.save("pooled-backward.svg")


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    network()
    im2col()
    max_pool()
    pooled_backward()

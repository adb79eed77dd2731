#!/usr/bin/env python3
"""Points every line anchor in docs/ at the declaration its link names, after code has moved.

    python3 scripts/doc_anchors.py

A link such as [`Reference.convolutionForward`](../Sources/Kernels/Reference.swift#L30) is
rewritten to the line declaring `convolutionForward` (a func, init label, type or property);
DocumentationLinkTests fails when one is off. Prints each anchor it changes, and exits non-zero
when a name has no declaration in its file.
"""
import glob
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
LINK = re.compile(r"\[`([^`]+)`\]\((\.\./[^)#\s]+\.swift)#L(\d+)\)")


def declaration(lines, text):
    """The 1-based line declaring what a link's text names, or None."""
    label = re.search(r"\((\w+):", text)
    name = text.split("(")[0].split(".")[-1]
    if label:
        patterns = [f"init({label.group(1)}"]
    else:
        patterns = [f"{kind} {name}{end}" for kind in ("func", "struct", "enum", "class", "var", "let") for end in ("(", "<", " ", ":")]
    for pattern in patterns:
        for number, line in enumerate(lines, 1):
            if pattern in line and not line.lstrip().startswith("//"):
                return number
    return None


def main():
    failed = False
    for document in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        with open(document) as f:
            text = f.read()

        def anchor(match):
            nonlocal failed
            name, path, old = match.group(1), match.group(2), int(match.group(3))
            with open(os.path.normpath(os.path.join(os.path.dirname(document), path))) as f:
                number = declaration(f.read().split("\n"), name)
            if number is None:
                print(f"{os.path.relpath(document, ROOT)}: no declaration of {name} in {path}", file=sys.stderr)
                failed = True
                return match.group(0)
            if number != old:
                print(f"{os.path.relpath(document, ROOT)}: {name} {path}#L{old} -> #L{number}")
            return f"[`{name}`]({path}#L{number})"

        updated = LINK.sub(anchor, text)
        if updated != text:
            with open(document, "w") as f:
                f.write(updated)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

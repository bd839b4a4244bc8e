#!/usr/bin/python3
"""Contact sheet of a `hipid synth` folder: one column per class, one row per
patient (its first view), labelled. Usage: synth_sheet.py DIR OUT.png [rows] [scale]"""
import csv
import os
import sys

from PIL import Image, ImageDraw


def main():
    src, out = sys.argv[1], sys.argv[2]
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    scale = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    with open(os.path.join(src, "manifest.csv")) as f:
        recs = list(csv.DictReader(f))
    labels = list(dict.fromkeys(r["label"] for r in recs))
    cols = {}
    for r in recs:
        pats = cols.setdefault(r["label"], {})
        pats.setdefault(r["patient_id"], r["path"])
    first = Image.open(os.path.join(src, recs[0]["path"]))
    s = int(first.size[0] * scale)
    head = 14
    sheet = Image.new("L", (s * len(labels), head + s * rows), 255)
    draw = ImageDraw.Draw(sheet)
    for c, lab in enumerate(labels):
        draw.text((c * s + 2, 1), lab[:s // 6], fill=0)
        for r, path in enumerate(list(cols[lab].values())[:rows]):
            im = Image.open(os.path.join(src, path)).convert("L").resize((s, s), Image.BILINEAR)
            sheet.paste(im, (c * s, head + r * s))
    sheet.save(out, optimize=True)


if __name__ == "__main__":
    main()

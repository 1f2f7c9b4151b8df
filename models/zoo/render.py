"""Small drawing helpers shared by the two dataset generators.

Scenes are drawn on a 4x canvas and box-filtered down, so edges are anti-aliased like a camera
image while the annotation polygons stay exact in the 1x frame (pixel i covers [i, i+1), as in
COCO's rasteriser).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

SS = 4  # supersampling factor


class Canvas:
    def __init__(self, w: int, h: int, background: np.ndarray):
        """background: float array [h, w, 3] in 0..255 at 1x; upsampled to the canvas."""
        self.w, self.h = w, h
        bg = Image.fromarray(np.clip(background, 0, 255).astype(np.uint8), 'RGB')
        self.img = bg.resize((w * SS, h * SS), Image.BILINEAR)
        self.draw = ImageDraw.Draw(self.img)

    def polygon(self, pts: np.ndarray, color) -> None:
        p = [(float(x) * SS, float(y) * SS) for x, y in np.asarray(pts).reshape(-1, 2)]
        self.draw.polygon(p, fill=tuple(int(c) for c in color))

    def shaded_polygon(self, pts: np.ndarray, color, rng: np.random.Generator) -> None:
        """Fill with a soft linear light gradient so objects are not flat colour blocks."""
        pts = np.asarray(pts).reshape(-1, 2)
        mask = Image.new('L', self.img.size, 0)
        ImageDraw.Draw(mask).polygon([(float(x) * SS, float(y) * SS) for x, y in pts], fill=255)
        x0, y0 = pts.min(0)
        x1, y1 = pts.max(0)
        ang = rng.uniform(0, 2 * np.pi)
        gx, gy = np.cos(ang), np.sin(ang)
        X0, Y0, X1, Y1 = (int(max(0, np.floor(v * SS))) for v in (x0, y0, x1 + 1, y1 + 1))
        X1, Y1 = min(X1, self.img.size[0]), min(Y1, self.img.size[1])
        if X1 <= X0 or Y1 <= Y0:
            return
        yy, xx = np.mgrid[Y0:Y1, X0:X1].astype(np.float32)
        span = max(x1 - x0, y1 - y0, 1.0) * SS
        t = ((xx - (X0 + X1) / 2) * gx + (yy - (Y0 + Y1) / 2) * gy) / span
        shade = 1.0 + 0.35 * t
        patch = np.clip(np.array(color, np.float32)[None, None, :] * shade[..., None], 0, 255)
        self.img.paste(Image.fromarray(patch.astype(np.uint8), 'RGB'), (X0, Y0),
                       mask.crop((X0, Y0, X1, Y1)))

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, color) -> None:
        self.draw.ellipse([(cx - rx) * SS, (cy - ry) * SS, (cx + rx) * SS, (cy + ry) * SS],
                          fill=tuple(int(c) for c in color))

    def rect(self, x0: float, y0: float, x1: float, y1: float, color) -> None:
        self.draw.rectangle([x0 * SS, y0 * SS, x1 * SS - 1, y1 * SS - 1],
                            fill=tuple(int(c) for c in color))

    def finish(self, rng: np.random.Generator, noise: float) -> np.ndarray:
        small = np.asarray(self.img.reduce(SS), dtype=np.float32)
        small = small + rng.normal(0, noise, small.shape).astype(np.float32)
        return np.clip(np.round(small), 0, 255).astype(np.uint8)


def smooth_field(rng: np.random.Generator, w: int, h: int, cells: int, amp: float) -> np.ndarray:
    """Low-frequency noise [h, w]: a coarse random grid upsampled bicubically."""
    gw, gh = max(2, cells), max(2, int(round(cells * h / w)))
    grid = rng.normal(0, 1, (gh, gw)).astype(np.float32)
    img = Image.fromarray(grid, 'F').resize((w, h), Image.BICUBIC)
    return np.asarray(img) * amp


def regular_polygon(cx: float, cy: float, r: float, n: int, rot: float) -> np.ndarray:
    a = rot + np.arange(n) * 2 * np.pi / n
    return np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1)

"""The "signal shapes" instance dataset in COCO format.

Every scene (192x128) holds one to three large shapes and a signal strip along its left or right
edge: yellow means a day scene, blue a night scene. Discs and squares are labelled by scene
kind (day disc / night disc, day square / night square); triangles are triangles in both. A day
disc and a night disc share one colour, size and texture distribution, so their label depends
only on the strip, and every shape keeps at least 72 px clear of it.

Why 72 px: Mask R-CNN's RoI heads see only RoI-aligned P2 features of the box, and in the
detectors' FPN (one bottleneck per stage) a P2 feature's receptive field reaches at most 71 px
sideways (measured by run.py; RoIAlign's bilinear sampling adds a few). A local-only
baseline is therefore blind to the strip and must guess
day or night, while a GC block pools the strip into every position. Triangles need no context
and show what both reach when the cue does not matter.

Extras that exercise a COCO importer, as in the real dataset: objects cut in two by a pole
get several polygons; a few swarms of tiny discs are crowd regions stored as RLE (list and
compressed string); category ids have gaps; in val, one image is grayscale, one carries an
EXIF orientation tag, and a few have other sizes (the model's resize path).
"""

from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image

import cocomask
import render

# Category ids with gaps, like COCO's 1..90 with 80 used.
CATEGORIES = [
    {'id': 1, 'name': 'day disc', 'supercategory': 'disc'},
    {'id': 3, 'name': 'night disc', 'supercategory': 'disc'},
    {'id': 6, 'name': 'day square', 'supercategory': 'square'},
    {'id': 8, 'name': 'night square', 'supercategory': 'square'},
    {'id': 13, 'name': 'triangle', 'supercategory': 'triangle'},
]
SHAPES = ['disc', 'square', 'triangle']
KINDS = ['day', 'night']
CAT_ID = {('day', 'disc'): 1, ('night', 'disc'): 3, ('day', 'square'): 6,
          ('night', 'square'): 8, ('day', 'triangle'): 13, ('night', 'triangle'): 13}

# Object colours are shared by all categories; the strip colours are used by nothing else.
PALETTE = [(215, 55, 50), (45, 165, 75), (150, 70, 195), (235, 135, 35), (35, 160, 170),
           (230, 115, 170), (230, 230, 225), (140, 95, 50)]
SIGNAL = {'day': (255, 215, 0), 'night': (20, 50, 255)}

WIDTH, HEIGHT = 192, 128
STRIP = 14  # signal strip width
CLEAR = 72  # free gap between the strip and any shape
VAL_SPECIAL = {3: 'grayscale', 5: 'exif', 7: (160, 120), 11: (144, 112), 13: (128, 160)}


def shape_polygon(shape: str, cx: float, cy: float, r: float, rot: float) -> np.ndarray:
    if shape == 'disc':
        return render.regular_polygon(cx, cy, r, 40, 0.0)
    if shape == 'square':
        return render.regular_polygon(cx, cy, r, 4, rot)
    return render.regular_polygon(cx, cy, r, 3, rot)


def make_scene(rng: np.random.Generator, w: int, h: int):
    """Draw one scene; returns (rgb uint8 [h,w,3], kind, objects, crowds)."""
    # The background's mean colour varies little from scene to scene, so the strip dominates the
    # difference between two scenes' average features (what a fresh GC block pools).
    base = np.array(rng.uniform([112, 110, 100], [148, 145, 135]), np.float32)
    bg = base[None, None, :] + np.stack(
        [render.smooth_field(rng, w, h, 6, 18) for _ in range(3)], -1)
    bg += render.smooth_field(rng, w, h, 3, 14)[..., None]
    canvas = render.Canvas(w, h, bg)

    kind = KINDS[int(rng.integers(2))]
    left = bool(rng.random() < 0.5)
    # Shapes must stay CLEAR px away from the strip's inner edge.
    lo = STRIP + CLEAR if left else 0
    hi = w if left else w - STRIP - CLEAR

    objects = []
    n_obj = int(rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25]))
    placed: list[tuple[float, float, float]] = []
    for _ in range(n_obj):
        for _try in range(60):
            r = float(rng.uniform(15, 26))
            if hi - lo < 2 * r + 2:
                break
            cx = float(rng.uniform(lo + r + 1, hi - r - 1))
            cy = float(rng.uniform(r + 1, h - r - 1))
            if any(np.hypot(cx - px, cy - py) < r + pr + 4 for px, py, pr in placed):
                continue
            placed.append((cx, cy, r))
            shape = SHAPES[int(rng.choice(3, p=[0.4, 0.4, 0.2]))]
            rot = float(rng.uniform(0, 2 * np.pi))
            color = PALETTE[int(rng.integers(len(PALETTE)))]
            objects.append({'shape': shape, 'poly': shape_polygon(shape, cx, cy, r, rot),
                            'color': color, 'kind': kind})
            break

    # A crowd: a swarm of tiny discs in a free spot, labelled as one iscrowd region.
    crowds = []
    if rng.random() < 0.1:
        for _try in range(40):
            sx, sy = float(rng.uniform(lo + 18, hi - 18)), float(rng.uniform(18, h - 18))
            if any(np.hypot(sx - px, sy - py) < pr + 22 for px, py, pr in placed):
                continue
            color = PALETTE[int(rng.integers(len(PALETTE)))]
            dots = []
            for _ in range(int(rng.integers(8, 15))):
                dr = float(rng.uniform(2.5, 4))
                dots.append(render.regular_polygon(sx + rng.uniform(-14, 14),
                                                   sy + rng.uniform(-14, 14), dr, 16, 0.0))
            crowds.append({'dots': dots, 'color': color, 'kind': kind})
            break

    for o in objects:
        canvas.shaded_polygon(o['poly'], o['color'], rng)
    for c in crowds:
        for d in c['dots']:
            canvas.polygon(d, c['color'])

    # An occluding pole cuts shapes into two visible parts (multi-polygon annotations).
    pole = None
    if rng.random() < 0.25:
        pw = float(rng.uniform(4, 6))
        px = float(rng.uniform(STRIP + 6, w - STRIP - 6 - pw))
        pole = (px, px + pw)
        canvas.rect(pole[0], 0, pole[1], h, (60, 52, 45))

    # The signal strip, with a dark inner edge, drawn last so nothing hides it.
    if left:
        canvas.rect(0, 0, STRIP, h, SIGNAL[kind])
        canvas.rect(STRIP - 2, 0, STRIP, h, (30, 30, 30))
    else:
        canvas.rect(w - STRIP, 0, w, h, SIGNAL[kind])
        canvas.rect(w - STRIP, 0, w - STRIP + 2, h, (30, 30, 30))

    for o in objects:
        poly = o['poly']
        parts = [poly]
        if pole is not None:
            x0, x1 = pole
            left_part = cocomask.clip_convex(poly, 1, 0, x0)
            right_part = cocomask.clip_convex(poly, -1, 0, -x1)
            if poly[:, 0].min() < x1 and poly[:, 0].max() > x0:
                parts = [p for p in (left_part, right_part) if cocomask.shoelace(p) >= 6.0]
        o['parts'] = parts
    objects = [o for o in objects if o['parts']]
    rgb = canvas.finish(rng, noise=3.0)
    return rgb, kind, objects, crowds


def _round_poly(p: np.ndarray, w: int, h: int) -> list[float]:
    q = np.clip(np.asarray(p), [0, 0], [w, h])
    return [round(float(v), 2) for v in q.reshape(-1)]


def generate(root: str, split: str, n: int, seed: int, image_dir: str, ann_path: str) -> dict:
    os.makedirs(image_dir, exist_ok=True)
    os.makedirs(os.path.dirname(ann_path), exist_ok=True)
    split_code = {'train': 1, 'val': 2}[split]
    images, anns = [], []
    ann_id = 1
    image_id_base = 100000 * split_code
    for i in range(n):
        rng = np.random.default_rng([seed, split_code, i])
        special = VAL_SPECIAL.get(i) if split == 'val' else None
        w, h = (WIDTH, HEIGHT)
        if special == 'exif':
            w, h = WIDTH, HEIGHT
        elif isinstance(special, tuple):
            w, h = special
        rgb, kind, objects, crowds = make_scene(rng, w, h)
        image_id = image_id_base + i + 1
        file_name = f'{image_id:012d}.jpg'
        path = os.path.join(image_dir, file_name)
        img = Image.fromarray(rgb, 'RGB')
        if special == 'grayscale':
            img.convert('L').save(path, quality=90)
        elif special == 'exif':
            # Stored pixels are the displayed image turned 90 degrees counter-clockwise;
            # orientation 6 tells viewers to turn them back clockwise. Annotations are in
            # the displayed frame, as COCO tools that honour EXIF expect.
            exif = Image.Exif()
            exif[0x0112] = 6
            img.transpose(Image.ROTATE_90).save(path, quality=90, exif=exif.tobytes())
        else:
            img.save(path, quality=90)
        images.append({'id': image_id, 'width': w, 'height': h, 'file_name': file_name,
                       'scene': kind})
        for o in objects:
            polys = [_round_poly(p, w, h) for p in o['parts']]
            m = cocomask.segmentation_to_mask(polys, h, w)
            area = int(m.sum())
            if area < 10:
                continue
            anns.append({'id': ann_id, 'image_id': image_id,
                         'category_id': CAT_ID[(o['kind'], o['shape'])],
                         'segmentation': polys, 'area': float(area),
                         'bbox': cocomask.polygon_area_bbox(polys), 'iscrowd': 0})
            ann_id += 1
        for c in crowds:
            m = np.zeros((h, w), bool)
            for d in c['dots']:
                m |= cocomask.poly_to_mask(_round_poly(d, w, h), h, w)
            counts = cocomask.mask_to_counts(m)
            # Alternate the two RLE spellings COCO uses for crowds.
            use_string = (ann_id % 2) == 0
            seg = {'size': [h, w],
                   'counts': cocomask.counts_to_string(counts) if use_string else counts}
            anns.append({'id': ann_id, 'image_id': image_id,
                         'category_id': CAT_ID[(c['kind'], 'disc')], 'segmentation': seg,
                         'area': float(m.sum()), 'bbox': cocomask.mask_bbox(m), 'iscrowd': 1})
            ann_id += 1
    data = {
        'info': {'description': 'GC Studio demo: signal shapes (generated by models/zoo)',
                 'version': '1.0', 'year': 2025},
        'licenses': [{'id': 1, 'name': 'CC0 1.0', 'url': 'https://creativecommons.org/publicdomain/zero/1.0/'}],
        'images': images, 'annotations': anns, 'categories': CATEGORIES,
    }
    with open(ann_path, 'w') as f:
        json.dump(data, f, separators=(',', ':'))
    return data


def load_rgb(path: str) -> np.ndarray:
    """Decode as the studio should: honour EXIF orientation, expand grayscale to RGB."""
    from PIL import ImageOps
    img = Image.open(path)
    img = ImageOps.exif_transpose(img)
    return np.asarray(img.convert('RGB'))

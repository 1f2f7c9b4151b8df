"""The "beacon shapes" instance dataset in COCO format.

Every scene holds one to three large shapes (disc, square, triangle) and one small beacon in
a corner: a yellow sun means a day scene, a blue moon a night scene. The category of every
shape is <scene kind> <shape>: a day disc and a night disc have the same colour, size and
texture distribution, so the label of a shape depends only on a cue that lies far outside its
box (shapes keep at least 20 px clear of the beacon's rim). Mask R-CNN's RoI heads see only the
RoI-aligned features of the box, so a local-only backbone must carry the beacon's colour
across the image through its receptive field, while a GC block pools it into every position.

Extras that exercise a COCO importer, as in the real dataset: objects cut in two by a pole
get several polygons; a few swarms of tiny discs are crowd regions stored as RLE (list and
compressed string); category ids have gaps; in val, one image is grayscale, one carries an
EXIF orientation tag, and a few are not square (the model's resize path).
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
    {'id': 1, 'name': 'day disc', 'supercategory': 'day'},
    {'id': 3, 'name': 'day square', 'supercategory': 'day'},
    {'id': 6, 'name': 'day triangle', 'supercategory': 'day'},
    {'id': 8, 'name': 'night disc', 'supercategory': 'night'},
    {'id': 10, 'name': 'night square', 'supercategory': 'night'},
    {'id': 13, 'name': 'night triangle', 'supercategory': 'night'},
]
SHAPES = ['disc', 'square', 'triangle']
KINDS = ['day', 'night']
CAT_ID = {(k, s): CATEGORIES[i * 3 + j]['id'] for i, k in enumerate(KINDS)
          for j, s in enumerate(SHAPES)}

# Object colours are shared by all categories; the beacon colours are used by nothing else.
PALETTE = [(215, 55, 50), (45, 165, 75), (150, 70, 195), (235, 135, 35), (35, 160, 170),
           (230, 115, 170), (230, 230, 225), (140, 95, 50)]
BEACON = {'day': (250, 215, 40), 'night': (45, 70, 215)}

SIZE = 128
VAL_SPECIAL = {3: 'grayscale', 5: 'exif', 7: (160, 120), 11: (112, 144), 13: (144, 112)}


def shape_polygon(shape: str, cx: float, cy: float, r: float, rot: float) -> np.ndarray:
    if shape == 'disc':
        return render.regular_polygon(cx, cy, r, 40, 0.0)
    if shape == 'square':
        return render.regular_polygon(cx, cy, r, 4, rot)
    return render.regular_polygon(cx, cy, r, 3, rot)


def make_scene(rng: np.random.Generator, w: int, h: int):
    """Draw one scene; returns (rgb uint8 [h,w,3], objects, crowds)."""
    base = np.array(rng.uniform([90, 90, 80], [170, 165, 150]), np.float32)
    bg = base[None, None, :] + np.stack(
        [render.smooth_field(rng, w, h, 5, 18) for _ in range(3)], -1)
    bg += render.smooth_field(rng, w, h, 3, 14)[..., None]
    canvas = render.Canvas(w, h, bg)

    kind = KINDS[int(rng.integers(2))]
    corner = int(rng.integers(4))
    bx = 15 + rng.uniform(-2, 3) if corner in (0, 3) else w - 15 - rng.uniform(-2, 3)
    by = 15 + rng.uniform(-2, 3) if corner in (0, 1) else h - 15 - rng.uniform(-2, 3)

    objects = []
    n_obj = int(rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25]))
    placed: list[tuple[float, float, float]] = []
    for _ in range(n_obj):
        for _try in range(60):
            r = float(rng.uniform(16, 30))
            cx = float(rng.uniform(r + 1, w - r - 1))
            cy = float(rng.uniform(r + 1, h - r - 1))
            if np.hypot(cx - bx, cy - by) < r + 34:
                continue
            if any(np.hypot(cx - px, cy - py) < r + pr + 4 for px, py, pr in placed):
                continue
            placed.append((cx, cy, r))
            shape = SHAPES[int(rng.integers(3))]
            rot = float(rng.uniform(0, 2 * np.pi))
            color = PALETTE[int(rng.integers(len(PALETTE)))]
            objects.append({'shape': shape, 'poly': shape_polygon(shape, cx, cy, r, rot),
                            'color': color, 'kind': kind})
            break

    # A crowd: a swarm of tiny discs in a free spot, labelled as one iscrowd region.
    crowds = []
    if rng.random() < 0.1:
        for _try in range(40):
            sx, sy = float(rng.uniform(20, w - 20)), float(rng.uniform(20, h - 20))
            if np.hypot(sx - bx, sy - by) < 40:
                continue
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
        for _try in range(20):
            px = float(rng.uniform(4, w - 4 - pw))
            if abs(px + pw / 2 - bx) > 20:
                pole = (px, px + pw)
                break
        if pole is not None:
            canvas.rect(pole[0], 0, pole[1], h, (60, 52, 45))

    # Beacon: ring + fill, drawn last so nothing hides it.
    canvas.ellipse(bx, by, 12.5, 12.5, (30, 30, 30))
    canvas.ellipse(bx, by, 10, 10, BEACON[kind])

    for o in objects:
        poly = o['poly']
        parts = [poly]
        if pole is not None:
            x0, x1 = pole
            left = cocomask.clip_convex(poly, 1, 0, x0)
            right = cocomask.clip_convex(poly, -1, 0, -x1)
            if len(left) + len(right) > 0 and (poly[:, 0].min() < x1 and poly[:, 0].max() > x0):
                parts = [p for p in (left, right) if cocomask.shoelace(p) >= 6.0]
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
        w, h = (SIZE, SIZE)
        if special == 'exif':
            w, h = 160, 120
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
        'info': {'description': 'GC Studio demo: beacon shapes (generated by models/zoo)',
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

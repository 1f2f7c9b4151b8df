"""The "bus-stop streets" semantic-segmentation dataset in the Cityscapes folder layout.

Street scenes at 256x128 (Cityscapes' 2:1 aspect): sky, buildings and trees, road, sidewalks,
terrain, poles, people, cars and large vehicles. A large vehicle is a bus when the scene has a
blue bus-stop board and a truck when it has a red no-bus board (labelled traffic sign); buses
and trucks are drawn from the same appearance distribution, and the board stands at the far
left or right edge, at least 84 px from any large vehicle. The FCN segmenter's output sees at
most 81 px sideways (measured by run.py), so it cannot see the board from a bus or truck and
must guess, while the GC head pools the board into every position.

Files follow cityscapesScripts: labelIds / instanceIds (labelId*1000+k for instance classes)
/ color PNGs rendered from the polygons exactly as json2labelImg does (PIL polygons drawn in
list order, later ones on top), with the official label ids, names and colours.
"""

from __future__ import annotations

import json
import os

import numpy as np
from PIL import Image, ImageDraw

import render

# (name, id, trainId, hasInstances, color) from cityscapesScripts helpers/labels.py.
LABELS = [
    ('unlabeled', 0, 255, False, (0, 0, 0)),
    ('ego vehicle', 1, 255, False, (0, 0, 0)),
    ('rectification border', 2, 255, False, (0, 0, 0)),
    ('out of roi', 3, 255, False, (0, 0, 0)),
    ('static', 4, 255, False, (0, 0, 0)),
    ('dynamic', 5, 255, False, (111, 74, 0)),
    ('ground', 6, 255, False, (81, 0, 81)),
    ('road', 7, 0, False, (128, 64, 128)),
    ('sidewalk', 8, 1, False, (244, 35, 232)),
    ('parking', 9, 255, False, (250, 170, 160)),
    ('rail track', 10, 255, False, (230, 150, 140)),
    ('building', 11, 2, False, (70, 70, 70)),
    ('wall', 12, 3, False, (102, 102, 156)),
    ('fence', 13, 4, False, (190, 153, 153)),
    ('guard rail', 14, 255, False, (180, 165, 180)),
    ('bridge', 15, 255, False, (150, 100, 100)),
    ('tunnel', 16, 255, False, (150, 120, 90)),
    ('pole', 17, 5, False, (153, 153, 153)),
    ('polegroup', 18, 255, False, (153, 153, 153)),
    ('traffic light', 19, 6, False, (250, 170, 30)),
    ('traffic sign', 20, 7, False, (220, 220, 0)),
    ('vegetation', 21, 8, False, (107, 142, 35)),
    ('terrain', 22, 9, False, (152, 251, 152)),
    ('sky', 23, 10, False, (70, 130, 180)),
    ('person', 24, 11, True, (220, 20, 60)),
    ('rider', 25, 12, True, (255, 0, 0)),
    ('car', 26, 13, True, (0, 0, 142)),
    ('truck', 27, 14, True, (0, 0, 70)),
    ('bus', 28, 15, True, (0, 60, 100)),
    ('caravan', 29, 255, True, (0, 0, 90)),
    ('trailer', 30, 255, True, (0, 0, 110)),
    ('train', 31, 16, True, (0, 80, 100)),
    ('motorcycle', 32, 17, True, (0, 0, 230)),
    ('bicycle', 33, 18, True, (119, 11, 32)),
    ('license plate', -1, -1, False, (0, 0, 142)),
]
BY_NAME = {l[0]: l for l in LABELS}
TRAIN_CLASSES = sorted((l for l in LABELS if 0 <= l[2] < 255), key=lambda l: l[2])
NUM_CLASSES = len(TRAIN_CLASSES)  # 19
ID_TO_TRAIN = np.full(256, 255, np.uint8)
for _l in LABELS:
    if _l[1] >= 0:
        ID_TO_TRAIN[_l[1]] = _l[2] if _l[2] >= 0 else 255

W, H = 256, 128
CITIES = {'train': ['aachen', 'bochum', 'bremen', 'cologne', 'darmstadt'],
          'val': ['frankfurt', 'lindau', 'munster']}
SIGN = {'bus': (20, 70, 255), 'truck': (240, 20, 20)}


def _blob(rng, cx, cy, r, n=14):
    a = np.sort(rng.uniform(0, 2 * np.pi, n))
    rr = r * rng.uniform(0.75, 1.15, n)
    return np.stack([cx + rr * np.cos(a), cy + rr * 0.9 * np.sin(a)], 1)


def _vehicle_poly(x0, yb, w, h, car: bool):
    """Outline of a vehicle whose bottom edge is at yb; cars get a cabin on top."""
    if car:
        body_top = yb - h * 0.55
        return np.array([[x0, yb], [x0, body_top + 2], [x0 + 2, body_top],
                         [x0 + w * 0.22, body_top], [x0 + w * 0.32, yb - h],
                         [x0 + w * 0.72, yb - h], [x0 + w * 0.84, body_top],
                         [x0 + w - 2, body_top], [x0 + w, body_top + 3], [x0 + w, yb]])
    return np.array([[x0, yb], [x0, yb - h + 3], [x0 + 3, yb - h], [x0 + w - 3, yb - h],
                     [x0 + w, yb - h + 3], [x0 + w, yb]])


def _person_poly(cx, yb, h):
    hw = h * 0.16
    head = h * 0.13
    return np.array([[cx - hw * 0.8, yb], [cx - hw, yb - h * 0.55], [cx - hw * 1.1, yb - h * 0.72],
                     [cx - head * 0.5, yb - h * 0.76], [cx - head * 0.7, yb - h * 0.88],
                     [cx - head * 0.4, yb - h], [cx + head * 0.4, yb - h],
                     [cx + head * 0.7, yb - h * 0.88], [cx + head * 0.5, yb - h * 0.76],
                     [cx + hw * 1.1, yb - h * 0.72], [cx + hw, yb - h * 0.55],
                     [cx + hw * 0.8, yb]])


def make_scene(rng: np.random.Generator):
    """Returns (rgb [H,W,3] uint8, objects [(label, polygon float [k,2], instance key)], kind)."""
    objs: list[tuple[str, np.ndarray]] = []
    paint: list[tuple] = []  # (kind, polygon, colour) drawn on the RGB canvas in order
    kind = 'bus' if rng.random() < 0.5 else 'truck'
    yh = float(rng.uniform(48, 62))

    def add(label, poly, color, style='shade'):
        poly = np.asarray(poly, np.float64)
        objs.append((label, poly))
        paint.append((style, poly, color))

    sky_c = np.array(rng.uniform([120, 160, 200], [175, 205, 240]))
    add('sky', [[0, 0], [W, 0], [W, yh + 4], [0, yh + 4]], sky_c, 'flat')
    # Background band: buildings and trees up to the horizon.
    x = -float(rng.uniform(0, 20))
    while x < W:
        if rng.random() < 0.6:
            bw = float(rng.uniform(28, 64))
            top = float(rng.uniform(6, yh - 18))
            c = np.array(rng.uniform([70, 65, 60], [175, 160, 140]))
            add('building', [[x, yh + 2], [x, top], [x + bw, top], [x + bw, yh + 2]], c, 'bldg')
            x += bw
        else:
            r = float(rng.uniform(13, 22))
            c = np.array(rng.uniform([40, 85, 25], [95, 145, 60]))
            add('vegetation', _blob(rng, x + r, yh - r * 0.6, r), c, 'leaf')
            x += r * 1.6
    # Ground: sidewalk everywhere below the horizon, then the road, then terrain patches.
    add('sidewalk', [[0, yh], [W, yh], [W, H], [0, H]],
        np.array(rng.uniform([150, 140, 140], [190, 180, 180])), 'flat')
    vx = W / 2 + float(rng.uniform(-30, 30))
    rt = float(rng.uniform(18, 32))
    road = [[vx - rt, yh], [vx + rt, yh], [W + 60, H], [-60, H]]
    add('road', road, np.array(rng.uniform([75, 75, 78], [105, 105, 110])), 'road')
    for side in (0, 1):
        if rng.random() < 0.4:
            if side == 0:
                poly = [[0, yh + 2], [vx - rt - 14, yh + 2], [0, yh + 40]]
            else:
                poly = [[W, yh + 2], [vx + rt + 14, yh + 2], [W, yh + 40]]
            add('terrain', poly, np.array(rng.uniform([95, 130, 50], [140, 170, 90])), 'leaf')
    # The context sign: a large bus-stop board (blue) or no-bus board (red) standing on the
    # sidewalk at the far left or right edge. It is large on purpose: a fresh GC block pools an
    # almost uniform average, in which a small sign would be drowned by the rest of the scene.
    left = rng.random() < 0.5
    sw, sh = float(rng.uniform(17, 19)), float(rng.uniform(32, 38))
    sx = float(rng.uniform(sw + 1, sw + 4)) if left else float(W - rng.uniform(sw + 1, sw + 4))
    base = yh + float(rng.uniform(8, 14))
    add('traffic sign', [[sx - sw, base - 2 * sh], [sx + sw, base - 2 * sh],
                         [sx + sw, base], [sx - sw, base]], SIGN[kind], 'flat')
    # Large vehicles keep this far from the sign (see the module docstring).
    free_lo = sx + sw + 84 if left else -1e9
    free_hi = sx - sw - 84 if not left else 1e9
    # Street-light poles elsewhere (no sign) so "pole" alone is not the cue.
    for _ in range(int(rng.integers(0, 3))):
        px = float(rng.uniform(40, W - 40))
        pb = yh + float(rng.uniform(10, 26))
        add('pole', [[px - 1, pb], [px - 1, yh - 30], [px + 1, yh - 30], [px + 1, pb]],
            (110, 110, 115), 'flat')

    # Vehicles, far ones first so near ones occlude them.
    vehicles = []
    for _ in range(int(rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25]))):
        car = rng.random() < 0.25
        for _try in range(40):
            yb = float(rng.uniform(yh + 22, H - 6))
            f = 0.55 + 0.45 * (yb - yh) / (H - yh)
            w = float(rng.uniform(40, 58) if car else rng.uniform(72, 104)) * f
            h = w * (0.5 if car else float(rng.uniform(0.45, 0.55)))
            x0 = float(rng.uniform(-w * 0.15, W - w * 0.85))
            if not car and (x0 < free_lo or x0 + w > free_hi):
                continue
            if any(abs(yb - v[1]) < 14 and x0 < v[0] + v[2] and v[0] < x0 + w for v in vehicles):
                continue
            vehicles.append((x0, yb, w, h, car))
            break
    people = []
    for _ in range(int(rng.integers(0, 4))):
        yb = float(rng.uniform(yh + 10, H - 4))
        ph = (yb - yh) * 0.6 + 8
        cx = float(rng.uniform(4, W - 4))
        people.append((cx, yb, ph))
    things = [('v', v[1], v) for v in vehicles] + [('p', p[1], p) for p in people]
    things.sort(key=lambda t: t[1])
    for t, _, v in things:
        if t == 'v':
            x0, yb, w, h, car = v
            label = 'car' if car else kind
            c = np.array(rng.uniform([30, 30, 30], [230, 230, 230]))
            add(label, _vehicle_poly(x0, yb, w, h, car), c, 'car' if car else 'bus')
        else:
            cx, yb, ph = v
            add('person', _person_poly(cx, yb, ph), np.array(rng.uniform([30, 20, 20], [200, 160, 160])),
                'shade')
    if rng.random() < 0.5:
        eh = float(rng.uniform(7, 12))
        add('ego vehicle', [[0, H], [0, H - eh * 0.6], [W * 0.3, H - eh], [W * 0.7, H - eh],
                            [W, H - eh * 0.6], [W, H]], (35, 35, 40), 'flat')

    # Integer vertices, as in Cityscapes' polygon files.
    objs = [(lab, np.round(p).astype(np.int64)) for lab, p in objs]
    rgb = _paint(rng, paint, yh)
    return rgb, objs, kind


def _paint(rng, paint, yh) -> np.ndarray:
    bg = np.full((H, W, 3), 128, np.float32)
    canvas = render.Canvas(W, H, bg)
    d = canvas.draw
    S = render.SS
    for style, poly, color in paint:
        color = np.clip(np.asarray(color, np.float64), 0, 255)
        if style in ('flat', 'road'):
            canvas.polygon(poly, color)
            if style == 'road':
                # Dashed centre line (still road), converging to the vanishing point.
                (ax, ay), (bx, by) = (poly[0] + poly[1]) / 2, (poly[2] + poly[3]) / 2
                for t in np.arange(0.08, 1.0, 0.16):
                    p0 = np.array([ax, ay]) + (t) * (np.array([bx, by]) - np.array([ax, ay]))
                    p1 = np.array([ax, ay]) + (t + 0.07) * (np.array([bx, by]) - np.array([ax, ay]))
                    wdt = 0.4 + 2.0 * t
                    canvas.polygon([[p0[0] - wdt, p0[1]], [p0[0] + wdt, p0[1]],
                                    [p1[0] + wdt, p1[1]], [p1[0] - wdt, p1[1]]], (215, 215, 205))
        elif style == 'bldg':
            canvas.polygon(poly, color)
            x0, y0 = poly[1]
            x1, y1 = poly[3]
            win = color * 0.55
            for wy in np.arange(y0 + 3, y1 - 5, 7):
                for wx in np.arange(x0 + 3, x1 - 4, 6):
                    canvas.rect(wx, wy, wx + 3, wy + 4, win)
        elif style == 'leaf':
            canvas.polygon(poly, color)
            cx, cy = poly.mean(0)
            for _ in range(10):
                r = rng.uniform(1.5, 4)
                px, py = poly[int(rng.integers(len(poly)))]
                qx, qy = cx + (px - cx) * rng.uniform(0.2, 0.8), cy + (py - cy) * rng.uniform(0.2, 0.8)
                canvas.ellipse(qx, qy, r, r, np.clip(color * rng.uniform(0.7, 1.25), 0, 255))
        elif style in ('car', 'bus'):
            canvas.shaded_polygon(poly, color, rng)
            xs, ys = poly[:, 0], poly[:, 1]
            x0, x1, yt, yb = xs.min(), xs.max(), ys.min(), ys.max()
            w, h = x1 - x0, yb - yt
            glass = (50, 60, 75)
            if style == 'bus':
                for wx in np.arange(x0 + 0.06 * w, x1 - 0.1 * w, 0.14 * w):
                    canvas.rect(wx, yt + 0.12 * h, wx + 0.1 * w, yt + 0.42 * h, glass)
            else:
                canvas.polygon([[x0 + 0.34 * w, yt + 0.12 * h], [x0 + 0.70 * w, yt + 0.12 * h],
                                [x0 + 0.80 * w, yt + 0.42 * h], [x0 + 0.26 * w, yt + 0.42 * h]], glass)
            r = max(2.0, 0.11 * w if style == 'car' else 0.07 * w)
            for wx in ((x0 + 0.2 * w, x1 - 0.2 * w) if style == 'car'
                       else (x0 + 0.15 * w, x0 + 0.32 * w, x1 - 0.18 * w)):
                canvas.ellipse(wx, yb - r * 0.8, r, r * 0.8, (20, 20, 22))
        else:
            canvas.shaded_polygon(poly, color, rng)
    light = render.smooth_field(rng, W, H, 6, 10)
    img = np.asarray(canvas.img.reduce(S), np.float32) + light[..., None]
    img += rng.normal(0, 2.5, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def rasterise(objs) -> tuple[np.ndarray, np.ndarray]:
    """json2labelImg / json2instanceImg: polygons drawn in order with PIL, later on top."""
    lab = Image.new('L', (W, H), 0)
    inst = Image.new('I', (W, H), 0)
    dl, di = ImageDraw.Draw(lab), ImageDraw.Draw(inst)
    counts: dict[str, int] = {}
    for name, poly in objs:
        l = BY_NAME[name]
        pts = [tuple(int(v) for v in p) for p in poly]
        dl.polygon(pts, fill=l[1])
        if l[3]:
            k = counts.get(name, 0)
            counts[name] = k + 1
            di.polygon(pts, fill=l[1] * 1000 + k)
        else:
            di.polygon(pts, fill=l[1])
    return np.asarray(lab, np.uint8), np.asarray(inst, np.int32)


def color_image(label_ids: np.ndarray) -> np.ndarray:
    lut = np.zeros((256, 4), np.uint8)
    lut[:, 3] = 255
    for l in LABELS:
        if l[1] >= 0:
            lut[l[1], :3] = l[4]
    return lut[label_ids]


def generate(root: str, split: str, n: int, seed: int) -> list[dict]:
    split_code = {'train': 11, 'val': 12}[split]
    cities = CITIES[split]
    index = []
    for i in range(n):
        rng = np.random.default_rng([seed, split_code, i])
        city = cities[i % len(cities)]
        seq = i // len(cities)
        stem = f'{city}_{seq:06d}_000019'
        rgb, objs, kind = make_scene(rng)
        lab, inst = rasterise(objs)
        img_dir = os.path.join(root, 'leftImg8bit', split, city)
        gt_dir = os.path.join(root, 'gtFine', split, city)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(gt_dir, exist_ok=True)
        Image.fromarray(rgb, 'RGB').save(os.path.join(img_dir, f'{stem}_leftImg8bit.png'))
        Image.fromarray(lab, 'L').save(os.path.join(gt_dir, f'{stem}_gtFine_labelIds.png'))
        Image.fromarray(inst.astype(np.uint16)).save(
            os.path.join(gt_dir, f'{stem}_gtFine_instanceIds.png'))
        Image.fromarray(color_image(lab), 'RGBA').save(
            os.path.join(gt_dir, f'{stem}_gtFine_color.png'))
        poly_json = {'imgHeight': H, 'imgWidth': W,
                     'objects': [{'label': lab_, 'polygon': p.tolist()} for lab_, p in objs]}
        with open(os.path.join(gt_dir, f'{stem}_gtFine_polygons.json'), 'w') as f:
            json.dump(poly_json, f, indent=1)
        index.append({'city': city, 'stem': stem, 'kind': kind})
    return index


def list_split(root: str, split: str) -> list[tuple[str, str]]:
    """(image path, labelIds path) pairs in a stable order."""
    out = []
    base = os.path.join(root, 'leftImg8bit', split)
    for city in sorted(os.listdir(base)):
        for fn in sorted(os.listdir(os.path.join(base, city))):
            if fn.endswith('_leftImg8bit.png'):
                stem = fn[:-len('_leftImg8bit.png')]
                out.append((os.path.join(base, city, fn),
                            os.path.join(root, 'gtFine', split, city,
                                         f'{stem}_gtFine_labelIds.png')))
    return out

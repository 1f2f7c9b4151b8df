"""Where do the trained GC blocks look? Attention mass on the global cue, per block.

For every GC block the softmax attention map (what the studio visualises) is summed over the
cells that overlap the cue (the signal strip in signal-shapes, the bus-stop column in
bus-stop-streets) and compared with the share those cells would get from uniform attention.
Also reports how strongly each block's added context separates the two scene kinds.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image

import common
import eval_det
import gen_cityscapes
import gen_coco
import nets


def _strip_side(rgb: np.ndarray) -> str:
    s = gen_coco.STRIP
    cols = {'left': rgb[:, : s - 2].reshape(-1, 3).mean(0), 'right': rgb[:, -s + 2:].reshape(-1, 3).mean(0)}
    dist = {k: min(np.abs(v - np.array(c)).sum() for c in gen_coco.SIGNAL.values())
            for k, v in cols.items()}
    return min(dist, key=dist.get)


def _summarise(per_block: dict) -> list[dict]:
    out = []
    for name, rows in per_block.items():
        mass = np.array([r[0] for r in rows])
        uniform = np.array([r[1] for r in rows])
        adds = np.stack([r[2] for r in rows])
        kinds = np.array([r[3] for r in rows])
        a, b = adds[kinds == 0], adds[kinds == 1]
        sep = float(np.linalg.norm(a.mean(0) - b.mean(0)) / (adds.std(0).mean() + 1e-12))
        out.append({'block': name, 'attentionOnCue': round(float(mass.mean()), 4),
                    'uniformShareOfCue': round(float(uniform.mean()), 4),
                    'contextSeparation': round(sep, 2),
                    'meanAbsContextAdd': round(float(np.abs(adds).mean()), 5)})
    return out


@torch.no_grad()
def detector(model, limit: int = 80) -> list[dict]:
    blocks = [(f'c{i + 2}.{j}', b.gc) for i, st in enumerate(model.backbone.body.stages)
              for j, b in enumerate(st) if b.gc is not None]
    gt = common.load_json(common.COCO_VAL_JSON)
    images = [im for im in gt['images'] if (im['width'], im['height']) ==
              (gen_coco.WIDTH, gen_coco.HEIGHT)][:limit]
    per_block: dict[str, list] = {n: [] for n, _ in blocks}
    current = {}

    def hook(name):
        def f(mod, inp, out):
            x = inp[0]
            current[name] = (mod.attention(x)[0].numpy(),
                             mod.channel_add_conv(mod.spatial_pool(x))[0, :, 0, 0].numpy())
        return f

    hs = [b.register_forward_hook(hook(n)) for n, b in blocks]
    for im in images:
        rgb = gen_coco.load_rgb(os.path.join(common.COCO_VAL_DIR, im['file_name']))
        x, _, _ = eval_det.preprocess(rgb)
        model.backbone.body(x)
        side = _strip_side(rgb)
        for name, (att, add) in current.items():
            w = att.shape[1]
            stride = gen_coco.WIDTH / w
            n_cols = int(np.ceil(gen_coco.STRIP / stride))
            cols = slice(0, n_cols) if side == 'left' else slice(w - n_cols, w)
            per_block[name].append((float(att[:, cols].sum()), n_cols / w, add,
                                    int(im['scene'] == 'day')))
    for h in hs:
        h.remove()
    return _summarise(per_block)


@torch.no_grad()
def segmenter(model: nets.Segmenter) -> list[dict]:
    gc = model.decode_head.gc_block
    if gc is None:
        return []
    cur = {}
    h = gc.register_forward_hook(lambda mod, inp, out: cur.update(
        att=mod.attention(inp[0])[0].numpy(),
        add=mod.channel_add_conv(mod.spatial_pool(inp[0]))[0, :, 0, 0].numpy()))
    rows = []
    sign_id = gen_cityscapes.BY_NAME['traffic sign'][1]
    for img_path, lab_path in gen_cityscapes.list_split(common.CITY_VAL_ROOT, 'val'):
        rgb = np.asarray(Image.open(img_path).convert('RGB'))
        lab = np.asarray(Image.open(lab_path))
        import train_seg
        model.logits(train_seg.normalise(torch.from_numpy(rgb)[None]))
        att = cur['att']
        sh, sw = lab.shape[0] / att.shape[0], lab.shape[1] / att.shape[1]
        # cells that contain any sign pixel
        cells = np.zeros(att.shape, bool)
        ys, xs = np.nonzero(lab == sign_id)
        cells[(ys / sh).astype(int), (xs / sw).astype(int)] = True
        # the sign's colour tells the scene kind (blue = bus)
        mean = rgb[lab == sign_id].mean(0)
        kind = int(mean[2] > mean[0])
        rows.append((float(att[cells].sum()), float(cells.mean()), cur['add'], kind))
    h.remove()
    return _summarise({'head': rows})

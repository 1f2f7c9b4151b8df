"""Evaluate a detector on the demo val split exactly the way the shipped mmdeploy export runs.

Image -> keep-ratio resize into the model scale (bilinear, half-pixel centres like cv2) ->
normalise -> zero-pad to 32 -> End2EndDetector -> boxes divided by the scale factors -> 28x28
masks pasted into the image with grid_sample (align_corners=False, mmdet's _do_paste_mask) and
thresholded at 0.5 -> COCO results -> coco_eval.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

import cocomask
import coco_eval
import common
import gen_coco
import nets

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def preprocess(rgb: np.ndarray, scale_wh=(192, 128), divisor: int = 32):
    """Returns (input [1,3,Hp,Wp], (w_scale, h_scale), resized (h, w))."""
    h, w = rgb.shape[:2]
    s = min(max(scale_wh) / max(h, w), min(scale_wh) / min(h, w))
    nw, nh = int(w * s + 0.5), int(h * s + 0.5)
    x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float()
    if (nw, nh) != (w, h):
        x = F.interpolate(x, size=(nh, nw), mode='bilinear', align_corners=False)
    x = (x - MEAN) / STD
    ph = int(np.ceil(nh / divisor) * divisor)
    pw = int(np.ceil(nw / divisor) * divisor)
    x = F.pad(x, (0, pw - nw, 0, ph - nh), value=0.0)
    return x, (nw / w, nh / h), (nh, nw)


def paste_masks(masks: torch.Tensor, boxes: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """mmdet _do_paste_mask: sample each 28x28 mask at the image pixel centres inside its box."""
    n = masks.shape[0]
    if n == 0:
        return torch.zeros((0, h, w))
    x0, y0, x1, y1 = torch.split(boxes, 1, dim=1)
    img_y = torch.arange(0, h, dtype=torch.float32) + 0.5
    img_x = torch.arange(0, w, dtype=torch.float32) + 0.5
    img_y = (img_y - y0) / (y1 - y0) * 2 - 1
    img_x = (img_x - x0) / (x1 - x0) * 2 - 1
    gx = img_x[:, None, :].expand(n, h, w)
    gy = img_y[:, :, None].expand(n, h, w)
    grid = torch.stack([gx, gy], dim=3)
    return F.grid_sample(masks[:, None].float(), grid, align_corners=False)[:, 0]


@torch.no_grad()
def predict(det: nets.End2EndDetector, rgb: np.ndarray):
    x, (sw, sh), _ = preprocess(rgb)
    dets, labels, masks = det(x)
    dets, labels, masks = dets[0], labels[0], masks[0]
    keep = dets[:, 4] > 0
    dets, labels, masks = dets[keep], labels[keep], masks[keep]
    boxes = dets[:, :4] / torch.tensor([sw, sh, sw, sh])
    h, w = rgb.shape[:2]
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
    full = paste_masks(masks, boxes, h, w) >= 0.5
    return boxes.numpy(), dets[:, 4].numpy(), labels.numpy(), full.numpy()


def evaluate_model(model, gt: dict, image_dir: str, limit: int | None = None) -> dict:
    model.eval()
    det = nets.End2EndDetector(model).eval()
    cat_ids = sorted(c['id'] for c in gt['categories'])
    images = gt['images'][:limit] if limit else gt['images']
    gt_used = dict(gt, images=images,
                   annotations=[a for a in gt['annotations']
                                if a['image_id'] in {im['id'] for im in images}])
    bbox_res, segm_res = [], []
    for im in images:
        rgb = gen_coco.load_rgb(os.path.join(image_dir, im['file_name']))
        boxes, scores, labels, masks = predict(det, rgb)
        for b, s, l, m in zip(boxes, scores, labels, masks):
            xywh = [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]
            r = {'image_id': im['id'], 'category_id': cat_ids[int(l)], 'bbox': xywh,
                 'score': float(s)}
            bbox_res.append(r)
            rle = {'size': [int(m.shape[0]), int(m.shape[1])],
                   'counts': cocomask.counts_to_string(cocomask.mask_to_counts(m))}
            # mmdet's segm results carry the bbox too, so loadRes gives them the box area.
            segm_res.append(dict(r, segmentation=rle))
    box = coco_eval.evaluate(gt_used, bbox_res, 'bbox')
    seg = coco_eval.evaluate(gt_used, segm_res, 'segm')
    return {'bbox': box['stats'], 'segm': seg['stats'],
            'bbox_per_class_AP': box['per_class_AP'], 'segm_per_class_AP': seg['per_class_AP'],
            'num_images': len(images), 'results': {'bbox': bbox_res, 'segm': segm_res}}


if __name__ == '__main__':
    import argparse
    import train_det
    ap = argparse.ArgumentParser()
    ap.add_argument('--variant', required=True)
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--limit', type=int)
    a = ap.parse_args()
    common.setup_torch(0)
    gt = common.load_json(common.COCO_VAL_JSON)
    m = nets.build_maskrcnn(len(gt['categories']), train_det.VARIANTS[a.variant])
    sd = torch.load(a.ckpt)
    m.load_state_dict(sd['model'] if 'model' in sd else sd)
    r = evaluate_model(m, gt, common.COCO_VAL_DIR, a.limit)
    print('bbox', {k: round(v, 3) for k, v in r['bbox'].items()})
    print('segm', {k: round(v, 3) for k, v in r['segm'].items()})
    print('per-class box AP', {k: round(v, 3) for k, v in r['bbox_per_class_AP'].items()})

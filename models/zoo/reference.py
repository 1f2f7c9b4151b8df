"""Reference outputs of the PyTorch models on 3 val images, as small binary fixtures.

Layout: <dir>/index.json + one little-endian raw file per output and image. The index gives
for each case the image (repository-relative), the sha256 of its decoded RGB bytes (so a
decoder difference is reported as such, not as a model mismatch), the input name and shape,
and per output: file, dtype, shape, optional sampleStride / onnxDtype, and the tolerance the
parity test applies: |onnx - ref| <= atol + rtol*|ref| for all but maxMismatchFraction of
the elements.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import torch

import common
import eval_det
import gen_coco
import nets
import train_seg
from PIL import Image


def _rel(p: str) -> str:
    return os.path.relpath(p, common.REPO)


def _write(dirpath: str, name: str, arr: np.ndarray, dtype: str, tol: dict, extra=None) -> dict:
    arr = np.ascontiguousarray(arr.astype({'float32': '<f4', 'float16': '<f2', 'int64': '<i8',
                                           'uint8': 'u1', 'int32': '<i4'}[dtype]))
    arr.tofile(os.path.join(dirpath, name))
    out = {'file': name, 'dtype': dtype, 'shape': list(arr.shape), 'tolerance': tol}
    if extra:
        out.update(extra)
    return out


def choose_coco_images(gt: dict, n: int = 3) -> list[dict]:
    """Model-sized (192x128) RGB val images (no resize, no EXIF, not grayscale): prefer several objects and a
    multi-polygon one, deterministically."""
    by_img: dict[int, list] = {}
    for a in gt['annotations']:
        by_img.setdefault(a['image_id'], []).append(a)
    special = {gt['images'][i]['id'] for i in gen_coco.VAL_SPECIAL if i < len(gt['images'])}
    cands = [im for im in gt['images'] if im['width'] == gen_coco.WIDTH and im['height'] == gen_coco.HEIGHT
             and im['id'] not in special]
    def score(im):
        anns = [a for a in by_img.get(im['id'], []) if not a['iscrowd']]
        multi = any(len(a['segmentation']) > 1 for a in anns)
        return (-(multi * 10 + len(anns)), im['id'])
    chosen = []
    kinds = set()
    for im in sorted(cands, key=score):
        # one day and one night scene at least
        if len(chosen) == n - 1 and len(kinds) == 1 and im.get('scene') in kinds:
            continue
        chosen.append(im)
        kinds.add(im.get('scene'))
        if len(chosen) == n:
            break
    return chosen


def _rgb_sha(rgb: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(rgb, np.uint8).tobytes()).hexdigest()


@torch.no_grad()
def det_end2end(model, images: list[dict], out_dir: str, model_id: str) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    det = nets.End2EndDetector(model).eval()
    cases = []
    for im in images:
        path = os.path.join(common.COCO_VAL_DIR, im['file_name'])
        rgb = gen_coco.load_rgb(path)
        x, scale, _ = eval_det.preprocess(rgb)
        assert scale == (1.0, 1.0) and tuple(x.shape[-2:]) == rgb.shape[:2]
        dets, labels, masks = det(x)
        stem = os.path.splitext(im['file_name'])[0]
        cases.append({
            'image': _rel(path), 'decodedRgbSha256': _rgb_sha(rgb), 'inputName': 'input',
            'inputShape': list(x.shape),
            'outputs': {
                'dets': _write(out_dir, f'{stem}.dets.bin', dets.numpy(), 'float32',
                               {'atol': 2e-3, 'rtol': 1e-4, 'maxMismatchFraction': 0}),
                'labels': _write(out_dir, f'{stem}.labels.bin', labels.numpy(), 'int64',
                                 {'atol': 0, 'rtol': 0, 'maxMismatchFraction': 0}),
                'masks': _write(out_dir, f'{stem}.masks.bin', masks.numpy(), 'float32',
                                {'atol': 2e-3, 'rtol': 0, 'maxMismatchFraction': 0}),
            }})
    index = {'model': model_id, 'cases': cases}
    common.save_json(os.path.join(out_dir, 'index.json'), index)
    return index


@torch.no_grad()
def det_torchvision(model, images: list[dict], out_dir: str, model_id: str) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    model.eval()
    cases = []
    for im in images:
        path = os.path.join(common.COCO_VAL_DIR, im['file_name'])
        rgb = gen_coco.load_rgb(path)
        x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div(255)
        out = model([x])[0]
        stem = os.path.splitext(im['file_name'])[0]
        # Full-image masks are large: keep every 2nd pixel as float16.
        m = out['masks'].numpy()[..., ::2, ::2]
        cases.append({
            'image': _rel(path), 'decodedRgbSha256': _rgb_sha(rgb), 'inputName': 'images_tensors',
            'inputShape': list(x.shape),
            'outputs': {
                'boxes': _write(out_dir, f'{stem}.boxes.bin', out['boxes'].numpy(), 'float32',
                                {'atol': 2e-3, 'rtol': 1e-4, 'maxMismatchFraction': 0}),
                'labels': _write(out_dir, f'{stem}.labels.bin', out['labels'].numpy(), 'int64',
                                 {'atol': 0, 'rtol': 0, 'maxMismatchFraction': 0}),
                'scores': _write(out_dir, f'{stem}.scores.bin', out['scores'].numpy(), 'float32',
                                 {'atol': 1e-3, 'rtol': 0, 'maxMismatchFraction': 0}),
                'masks': _write(out_dir, f'{stem}.masks.bin', m, 'float16',
                                {'atol': 3e-3, 'rtol': 0, 'maxMismatchFraction': 0},
                                {'sampleStride': 2}),
            }})
    index = {'model': model_id, 'cases': cases}
    common.save_json(os.path.join(out_dir, 'index.json'), index)
    return index


def choose_city_images(n: int = 3) -> list[str]:
    pairs = train_seg.gen_cityscapes.list_split(common.CITY_VAL_ROOT, 'val')
    # One per city, the first frames: deterministic and spread over scenes.
    seen, out = set(), []
    for img, _ in pairs:
        city = os.path.basename(os.path.dirname(img))
        if city not in seen:
            seen.add(city)
            out.append(img)
        if len(out) == n:
            break
    return out


@torch.no_grad()
def seg(model: nets.Segmenter, images: list[str], out_dir: str, model_id: str) -> dict:
    os.makedirs(out_dir, exist_ok=True)
    model.eval()
    cases = []
    for path in images:
        rgb = np.asarray(Image.open(path).convert('RGB'))
        x = train_seg.normalise(torch.from_numpy(rgb)[None])
        y = model(x)
        stem = os.path.basename(path).replace('_leftImg8bit.png', '')
        if model.with_argmax:
            spec = _write(out_dir, f'{stem}.output.bin', y.numpy(), 'uint8',
                          {'atol': 0, 'rtol': 0, 'maxMismatchFraction': 1e-3},
                          {'onnxDtype': 'int64'})
        else:
            spec = _write(out_dir, f'{stem}.output.bin', y.numpy()[..., ::4, ::4], 'float16',
                          {'atol': 2e-2, 'rtol': 2e-3, 'maxMismatchFraction': 0},
                          {'sampleStride': 4})
        cases.append({'image': _rel(path), 'decodedRgbSha256': _rgb_sha(rgb), 'inputName': 'input',
                      'inputShape': list(x.shape), 'outputs': {'output': spec}})
    index = {'model': model_id, 'cases': cases}
    common.save_json(os.path.join(out_dir, 'index.json'), index)
    return index

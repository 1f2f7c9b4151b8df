"""Train one Mask R-CNN variant (baseline / GC r16 / GC r4) on the beacon-shapes train split.

Resumable: a checkpoint is written every `ckpt_every` iterations and at the end; the data order
and flips are pure functions of (seed, iteration), and the torch RNG (used by the RPN/RoI
samplers) is saved with the checkpoint, so a resumed run continues the same sequence.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

import cocomask
import common
import gen_coco
import nets

VARIANTS = {'baseline': None, 'gc_r16': 1 / 16, 'gc_r4': 1 / 4}


def load_coco_split(ann_path: str, image_dir: str, cache: str | None = None):
    if cache and os.path.exists(cache):
        return torch.load(cache)
    data = common.load_json(ann_path)
    cat_ids = sorted(c['id'] for c in data['categories'])
    label_of = {c: i + 1 for i, c in enumerate(cat_ids)}
    by_img: dict[int, list] = {}
    for a in data['annotations']:
        by_img.setdefault(a['image_id'], []).append(a)
    items = []
    for im in data['images']:
        rgb = gen_coco.load_rgb(os.path.join(image_dir, im['file_name']))
        h, w = rgb.shape[:2]
        boxes, labels, masks = [], [], []
        for a in by_img.get(im['id'], []):
            if a['iscrowd']:
                continue  # crowd regions are ignore regions, as in mmdet's training
            x, y, bw, bh = a['bbox']
            boxes.append([x, y, x + bw, y + bh])
            labels.append(label_of[a['category_id']])
            masks.append(cocomask.segmentation_to_mask(a['segmentation'], h, w))
        items.append({
            'image_id': im['id'], 'rgb': rgb,
            'boxes': np.array(boxes, np.float32).reshape(-1, 4),
            'labels': np.array(labels, np.int64),
            'masks': np.array(masks, np.uint8).reshape(-1, h, w),
        })
    out = {'items': items, 'cat_ids': cat_ids}
    if cache:
        common.atomic_torch_save(out, cache)
    return out


def make_batch(items, idxs, flips):
    images, targets = [], []
    for i, flip in zip(idxs, flips):
        it = items[i]
        img = torch.from_numpy(it['rgb']).permute(2, 0, 1).float().div_(255)
        boxes = torch.from_numpy(it['boxes']).clone()
        masks = torch.from_numpy(it['masks'])
        if flip:
            w = img.shape[-1]
            img = img.flip(-1)
            masks = masks.flip(-1)
            boxes = torch.stack([w - boxes[:, 2], boxes[:, 1], w - boxes[:, 0], boxes[:, 3]], 1)
        images.append(img)
        targets.append({'boxes': boxes, 'labels': torch.from_numpy(it['labels']),
                        'masks': masks.contiguous()})
    return images, targets


def train(variant: str, out_dir: str, iters: int, bs: int, lr: float, seed: int,
          ckpt_every: int = 100, optim_name: str = 'sgd', warmup: int = 150) -> dict:
    common.setup_torch(seed)
    os.makedirs(out_dir, exist_ok=True)
    ds = load_coco_split(common.COCO_TRAIN_JSON, common.COCO_TRAIN_DIR,
                         os.path.join(common.WORK, 'cache', 'coco_train.pt'))
    items = ds['items']
    n = len(items)
    model = nets.build_maskrcnn(len(ds['cat_ids']), VARIANTS[variant])
    params = [p for p in model.parameters() if p.requires_grad]
    if optim_name == 'sgd':
        opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    else:
        opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    ckpt_path = os.path.join(out_dir, 'last.pt')
    start, elapsed = 0, 0.0
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        model.load_state_dict(ck['model'])
        opt.load_state_dict(ck['optim'])
        torch.set_rng_state(ck['torch_rng'])
        start, elapsed = ck['it'], ck['elapsed']
        common.log(f'{variant}: resumed at iteration {start}')
    model.train()
    t0 = time.time()
    t_last, it_last = t0, start
    perms: dict[int, np.ndarray] = {}
    for it in range(start, iters):
        cur_lr = common.cosine_lr(it, iters, lr, warmup)
        for g in opt.param_groups:
            g['lr'] = cur_lr
        idxs, flips = [], []
        for k in range(bs):
            p = it * bs + k
            ep = p // n
            if ep not in perms:
                perms[ep] = np.random.default_rng([seed, ep]).permutation(n)
            idxs.append(int(perms[ep][p % n]))
            flips.append(bool(np.random.default_rng([seed, 7, p]).random() < 0.5))
        images, targets = make_batch(items, idxs, flips)
        losses = model(images, targets)
        loss = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        if (it + 1) % 20 == 0 or it == start:
            now = time.time()
            ips = (it + 1 - it_last) * bs / max(1e-6, now - t_last)
            t_last, it_last = now, it + 1
            parts = ' '.join(f'{k[5:]}={v.item():.3f}' for k, v in losses.items())
            common.log(f'{variant} it {it + 1}/{iters} lr {cur_lr:.4f} loss {loss.item():.3f} '
                       f'[{parts}] {ips:.1f} img/s')
        if (it + 1) % ckpt_every == 0 or it + 1 == iters:
            common.atomic_torch_save({'model': model.state_dict(), 'optim': opt.state_dict(),
                                      'torch_rng': torch.get_rng_state(), 'it': it + 1,
                                      'elapsed': elapsed + time.time() - t0}, ckpt_path)
    total = elapsed + time.time() - t0
    info = {'variant': variant, 'iters': iters, 'batch_size': bs, 'lr': lr, 'optimizer': optim_name,
            'seed': seed, 'train_images': n, 'train_seconds': round(total, 1),
            'threads': common.THREADS}
    torch.save(model.state_dict(), os.path.join(out_dir, 'final.pt'))
    common.save_json(os.path.join(out_dir, 'train_info.json'), info)
    return info


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--variant', required=True, choices=list(VARIANTS))
    ap.add_argument('--out', required=True)
    ap.add_argument('--iters', type=int, default=3000)
    ap.add_argument('--bs', type=int, default=8)
    ap.add_argument('--lr', type=float, default=0.02)
    ap.add_argument('--optim', default='sgd')
    ap.add_argument('--seed', type=int, default=common.SEED)
    a = ap.parse_args()
    print(train(a.variant, a.out, a.iters, a.bs, a.lr, a.seed, optim_name=a.optim))

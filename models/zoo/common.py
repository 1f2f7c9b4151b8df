"""Paths, seeding, logging and checkpoint helpers shared by the recipe steps."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import time

import numpy as np
import torch

ZOO = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(ZOO))
WORK = os.path.join(ZOO, 'work')
MODELS = os.path.join(REPO, 'models')
DEMO = os.path.join(REPO, 'resources', 'demo')
SEED = 20250

COCO_VAL_DIR = os.path.join(DEMO, 'coco', 'val')
COCO_VAL_JSON = os.path.join(DEMO, 'coco', 'annotations', 'instances_val.json')
COCO_TRAIN_DIR = os.path.join(WORK, 'data', 'coco', 'train')
COCO_TRAIN_JSON = os.path.join(WORK, 'data', 'coco', 'annotations', 'instances_train.json')
CITY_VAL_ROOT = os.path.join(DEMO, 'cityscapes')
CITY_TRAIN_ROOT = os.path.join(WORK, 'data', 'cityscapes')

THREADS = int(os.environ.get('ZOO_THREADS', '2'))


def setup_torch(seed: int) -> None:
    torch.set_num_threads(THREADS)
    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.use_deterministic_algorithms(True, warn_only=True)


def log(msg: str) -> None:
    print(time.strftime('%H:%M:%S'), msg, flush=True)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def save_json(path: str, data, indent: int | None = 2) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=indent)
        f.write('\n')
    os.replace(tmp, path)


def load_json(path: str):
    with open(path) as f:
        return json.load(f)


def atomic_torch_save(obj, path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f'{path}.{os.getpid()}.tmp'  # parallel writers must not share a temporary name
    torch.save(obj, tmp)
    os.replace(tmp, path)


def cosine_lr(it: int, total: int, base: float, warmup: int) -> float:
    if it < warmup:
        return base * (0.1 + 0.9 * it / warmup)
    t = (it - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + np.cos(np.pi * t))


def die(msg: str) -> None:
    print('error:', msg, file=sys.stderr, flush=True)
    sys.exit(2)

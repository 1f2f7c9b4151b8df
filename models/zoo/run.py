#!/usr/bin/python3
"""Regenerate the GC Studio demo model zoo from scratch: one command, seeded.

    /usr/bin/python3 models/zoo/run.py [--force]

Steps (each resumes / skips work that is already done and still valid):
  data     generate the COCO and Cityscapes-layout datasets (val -> resources/demo, train -> work/)
  train    three Mask R-CNN variants (baseline, GC r16, GC r4) and two segmenters (FCN, GC head)
  eval     COCO box/mask AP and Cityscapes mIoU on the demo val splits
  export   ONNX files + mmdeploy JSON + reference fixtures into work/staging/
  check    verify each ONNX graph (opset, LayerNorm form, RoiAlign modes, outputs, sizes) and run
           the onnxruntime-node parity test (test/unit/zoo) against a candidate manifest
  publish  copy into models/, write models/manifest.json and the README results block

A shipped file whose sha256 no longer matches models/manifest.json (edited by hand, or a
manifest out of date) is never overwritten unless --force is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

# ---------------------------------------------------------------------------------------------
# Configuration: everything that determines the outputs.

COCO_TRAIN, COCO_VAL = 3000, 240
CITY_TRAIN, CITY_VAL = 800, 60
DET_SCHEDULE = {'iters': 3000, 'bs': 8, 'lr': 0.02, 'optim': 'sgd'}
SEG_SCHEDULE = {'iters': 2000, 'bs': 8, 'lr': 0.02}
MAX_MODEL_BYTES = 15 * 1024 * 1024
MAX_TOTAL_BYTES = 60 * 1024 * 1024

DETECTORS = [
    # id, training variant, export form, opset
    ('mask-rcnn-baseline', 'baseline', 'mmdeploy', 11),
    ('mask-rcnn-gc-r16', 'gc_r16', 'mmdeploy', 11),
    ('mask-rcnn-gc-r4', 'gc_r4', 'mmdeploy', 11),
    ('mask-rcnn-gc-r4-torchvision', 'gc_r4', 'torchvision', 17),
]
SEGMENTERS = [
    ('fcn-baseline', 'fcn', True, 11),
    ('gc-head', 'gchead', True, 17),
    ('gc-head-logits', 'gchead', False, 11),
]

STAGING = os.path.join(common.WORK, 'staging')
TIMINGS = os.path.join(common.WORK, 'timings.json')
MANIFEST = os.path.join(common.MODELS, 'manifest.json')


def rel(p: str) -> str:
    return os.path.relpath(p, common.REPO)


class Timer:
    """Per-step wall-clock seconds, kept across sessions in work/timings.json."""

    def __init__(self):
        self.data = common.load_json(TIMINGS) if os.path.exists(TIMINGS) else {}

    def record(self, key: str, seconds: float) -> None:
        self.data[key] = round(seconds, 1)
        common.save_json(TIMINGS, self.data)


# ---------------------------------------------------------------------------------------------


def data_fingerprint(root: str) -> str:
    """sha256 over every file of a generated train split: trained weights are only reused
    when the data they were trained on is byte-identical to the data generated now."""
    import hashlib
    h = hashlib.sha256()
    for dp, dns, fns in sorted(os.walk(root)):
        dns.sort()
        for fn in sorted(fns):
            p = os.path.join(dp, fn)
            h.update(os.path.relpath(p, root).encode())
            h.update(bytes.fromhex(common.sha256(p)))
    return h.hexdigest()


def step_data(timer: Timer) -> None:
    import gen_cityscapes
    import gen_coco
    stamp_path = os.path.join(common.WORK, 'data', 'stamp.json')
    stamp = {'seed': common.SEED, 'coco': [COCO_TRAIN, COCO_VAL], 'city': [CITY_TRAIN, CITY_VAL],
             'sources': {f: common.sha256(os.path.join(common.ZOO, f))
                         for f in ('gen_coco.py', 'gen_cityscapes.py', 'render.py', 'cocomask.py')}}
    have = common.load_json(stamp_path) if os.path.exists(stamp_path) else {}
    if {k: v for k, v in have.items() if k != 'fingerprints'} == stamp and \
            os.path.exists(common.COCO_VAL_JSON):
        common.log('data: up to date')
        return
    t = time.time()
    for d in (os.path.join(common.WORK, 'data'), os.path.join(common.WORK, 'cache'),
              os.path.join(common.DEMO, 'coco'), os.path.join(common.DEMO, 'cityscapes')):
        shutil.rmtree(d, ignore_errors=True)
    gen_coco.generate('', 'train', COCO_TRAIN, common.SEED, common.COCO_TRAIN_DIR,
                      common.COCO_TRAIN_JSON)
    gen_coco.generate('', 'val', COCO_VAL, common.SEED, common.COCO_VAL_DIR, common.COCO_VAL_JSON)
    timer.record('data_coco', time.time() - t)
    t = time.time()
    gen_cityscapes.generate(common.CITY_TRAIN_ROOT, 'train', CITY_TRAIN, common.SEED)
    gen_cityscapes.generate(common.CITY_VAL_ROOT, 'val', CITY_VAL, common.SEED)
    timer.record('data_cityscapes', time.time() - t)
    stamp['fingerprints'] = {'coco': data_fingerprint(os.path.join(common.WORK, 'data', 'coco')),
                             'cityscapes': data_fingerprint(common.CITY_TRAIN_ROOT)}
    common.save_json(stamp_path, stamp)
    common.log('data: generated')


def _train_dir(kind: str, variant: str) -> str:
    return os.path.join(common.WORK, kind, variant)


def _done(out: str, want: dict) -> bool:
    """Finished, with this schedule, on this data (schedule.json records what a run was
    started with, including the train split's fingerprint)."""
    info = os.path.join(out, 'train_info.json')
    sched = os.path.join(out, 'schedule.json')
    if not (os.path.exists(info) and os.path.exists(os.path.join(out, 'final.pt')) and
            os.path.exists(sched)):
        return False
    return common.load_json(sched) == want


def step_train(timer: Timer) -> None:
    """Train the five models as parallel single-threaded processes.

    On a shared 2-core machine two-thread PyTorch loses much of its time at OpenMP barriers
    whenever another process takes a core; independent single-threaded runs keep both cores
    busy and are each deterministic. A run that was interrupted resumes from its checkpoint.
    """
    import nets
    prints = common.load_json(os.path.join(common.WORK, 'data', 'stamp.json'))['fingerprints']
    jobs = []
    for variant in ('gc_r4', 'gc_r16', 'baseline'):
        out = _train_dir('det', variant)
        want = {'iters': DET_SCHEDULE['iters'], 'batch_size': DET_SCHEDULE['bs'],
                'lr': DET_SCHEDULE['lr'], 'seed': common.SEED, 'data': prints['coco'],
                'arch': json.loads(json.dumps(nets.DET_CFG))}
        jobs.append(('train_det.py', variant, out, want,
                     ['--iters', str(DET_SCHEDULE['iters']), '--bs', str(DET_SCHEDULE['bs']),
                      '--lr', str(DET_SCHEDULE['lr']), '--optim', DET_SCHEDULE['optim']]))
    for variant in ('gchead', 'fcn'):
        out = _train_dir('seg', variant)
        want = {'iters': SEG_SCHEDULE['iters'], 'batch_size': SEG_SCHEDULE['bs'],
                'lr': SEG_SCHEDULE['lr'], 'seed': common.SEED, 'data': prints['cityscapes'],
                'arch': json.loads(json.dumps(nets.SEG_CFG))}
        jobs.append(('train_seg.py', variant, out, want,
                     ['--iters', str(SEG_SCHEDULE['iters']), '--bs', str(SEG_SCHEDULE['bs']),
                      '--lr', str(SEG_SCHEDULE['lr']), '--train-only']))
    running = []
    os.makedirs(os.path.join(common.WORK, 'logs'), exist_ok=True)
    if not all(_done(out, want) for _, _, out, want, _ in jobs):
        import train_det
        import train_seg
        # Build the decoded-dataset caches once, before the parallel runs read them.
        train_det.load_coco_split(common.COCO_TRAIN_JSON, common.COCO_TRAIN_DIR,
                                  os.path.join(common.WORK, 'cache', 'coco_train.pt'))
        train_seg.load_split(common.CITY_TRAIN_ROOT, 'train',
                             os.path.join(common.WORK, 'cache', 'city_train.pt'))
    for script, variant, out, want, args in jobs:
        if _done(out, want):
            common.log(f'train {script} {variant}: done')
            continue
        sched = os.path.join(out, 'schedule.json')
        # Resume only a run started with exactly this schedule and data; otherwise start over.
        if os.path.exists(out) and (not os.path.exists(sched) or
                                    common.load_json(sched) != want or
                                    os.path.exists(os.path.join(out, 'train_info.json'))):
            shutil.rmtree(out)
        os.makedirs(out, exist_ok=True)
        common.save_json(sched, want)
        log_path = os.path.join(common.WORK, 'logs', f'{script[:-3]}_{variant}.log')
        cmd = [sys.executable, os.path.join(common.ZOO, script), '--variant', variant,
               '--out', out, '--seed', str(common.SEED)] + args
        env = dict(os.environ, ZOO_THREADS='1')
        common.log(f'train {script} {variant}: started, log {rel(log_path)}')
        running.append((script, variant, out, subprocess.Popen(
            cmd, env=env, stdout=open(log_path, 'a'), stderr=subprocess.STDOUT)))
    failed = []
    for script, variant, out, proc in running:
        if proc.wait() != 0:
            failed.append(f'{script} {variant}')
            continue
        info = common.load_json(os.path.join(out, 'train_info.json'))
        common.log(f'train {script} {variant}: finished in {info["train_seconds"]:.0f} s')
    if failed:
        common.die('training failed: ' + ', '.join(failed) + ' (see models/zoo/work/logs)')
    # The runs are parallel, so the step takes as long as the slowest (each model's own time
    # is in the manifest under training.seconds).
    slowest = max(common.load_json(os.path.join(out, 'train_info.json'))['train_seconds']
                  for _, _, out, _, _ in jobs)
    timer.record('train (5 models in parallel)', slowest)


def load_det(variant: str):
    import torch
    import nets
    import train_det
    gt = common.load_json(common.COCO_VAL_JSON)
    m = nets.build_maskrcnn(len(gt['categories']), train_det.VARIANTS[variant])
    m.load_state_dict(torch.load(os.path.join(_train_dir('det', variant), 'final.pt')))
    return m.eval()


def load_seg(variant: str, with_argmax: bool = True):
    import torch
    import gen_cityscapes
    import nets
    import train_seg
    m = nets.Segmenter(gen_cityscapes.NUM_CLASSES, train_seg.VARIANTS[variant],
                       with_argmax=with_argmax)
    m.load_state_dict(torch.load(os.path.join(_train_dir('seg', variant), 'final.pt')))
    return m.eval()


def _fresh(result: str, source: str) -> bool:
    """Metrics newer than both the weights and the generated data (the data stamp)."""
    stamp = os.path.join(common.WORK, 'data', 'stamp.json')
    return os.path.exists(result) and all(os.path.getmtime(result) >= os.path.getmtime(p)
                                          for p in (source, stamp))


def step_eval(timer: Timer) -> None:
    import analysis
    import eval_det
    import train_seg
    common.setup_torch(0)
    gt = common.load_json(common.COCO_VAL_JSON)
    for variant in ('baseline', 'gc_r16', 'gc_r4'):
        out = os.path.join(common.WORK, 'metrics', f'det_{variant}.json')
        if _fresh(out, os.path.join(_train_dir('det', variant), 'final.pt')):
            continue
        t = time.time()
        model = load_det(variant)
        r = eval_det.evaluate_model(model, gt, common.COCO_VAL_DIR)
        r['pycocotools_max_abs_diff'] = pycocotools_crosscheck(r)
        r['gc_attention'] = analysis.detector(model) if variant != 'baseline' else None
        r.pop('results')
        common.save_json(out, r)
        timer.record(f'eval_det_{variant}', time.time() - t)
        common.log(f'eval det {variant}: box AP {r["bbox"]["AP"]:.3f} mask AP {r["segm"]["AP"]:.3f}')
    # The torchvision export runs torchvision's own pre/post-processing: measure it too.
    out = os.path.join(common.WORK, 'metrics', 'det_gc_r4_torchvision.json')
    if not _fresh(out, os.path.join(_train_dir('det', 'gc_r4'), 'final.pt')):
        t = time.time()
        r = eval_torchvision(load_det('gc_r4'), gt)
        common.save_json(out, r)
        timer.record('eval_det_gc_r4_torchvision', time.time() - t)
    for variant in ('fcn', 'gchead'):
        out = os.path.join(common.WORK, 'metrics', f'seg_{variant}.json')
        if _fresh(out, os.path.join(_train_dir('seg', variant), 'final.pt')):
            continue
        t = time.time()
        model = load_seg(variant)
        r = train_seg.evaluate(model, common.CITY_VAL_ROOT)
        r['gc_attention'] = analysis.segmenter(model) or None
        common.save_json(out, r)
        timer.record(f'eval_seg_{variant}', time.time() - t)
        common.log(f'eval seg {variant}: mIoU {r["mIoU"]:.4f}')


def pycocotools_crosscheck(r: dict):
    """If a pycocotools build is supplied (ZOO_PYCOCOTOOLS=<cocoapi/PythonAPI>), evaluate the
    same results with it and return the largest difference; None when not supplied."""
    path = os.environ.get('ZOO_PYCOCOTOOLS')
    if not path:
        return None
    sys.path.insert(0, path)
    import crosscheck_pycocotools
    d = crosscheck_pycocotools.compare(common.COCO_VAL_JSON, r['results'], r)
    common.log(f'pycocotools cross-check: max |diff| {d:g}')
    return d


def eval_torchvision(model, gt: dict) -> dict:
    """AP of the model through torchvision's in-graph path (what the torchvision export runs)."""
    import numpy as np
    import torch
    import coco_eval
    import cocomask
    import gen_coco
    cat_ids = sorted(c['id'] for c in gt['categories'])
    bbox_res, segm_res = [], []
    with torch.no_grad():
        for im in gt['images']:
            rgb = gen_coco.load_rgb(os.path.join(common.COCO_VAL_DIR, im['file_name']))
            x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div(255)
            o = model([x])[0]
            for b, s, l, m in zip(o['boxes'].numpy(), o['scores'].numpy(), o['labels'].numpy(),
                                  o['masks'].numpy()):
                r = {'image_id': im['id'], 'category_id': cat_ids[int(l) - 1],
                     'bbox': [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
                     'score': float(s)}
                bbox_res.append(r)
                mk = m[0] >= 0.5
                segm_res.append(dict(r, segmentation={
                    'size': list(mk.shape),
                    'counts': cocomask.counts_to_string(cocomask.mask_to_counts(mk))}))
    box = coco_eval.evaluate(gt, bbox_res, 'bbox')
    seg = coco_eval.evaluate(gt, segm_res, 'segm')
    return {'bbox': box['stats'], 'segm': seg['stats'], 'bbox_per_class_AP': box['per_class_AP'],
            'segm_per_class_AP': seg['per_class_AP'], 'num_images': len(gt['images'])}


# ---------------------------------------------------------------------------------------------


def _macs(module, *args) -> int:
    import torch
    import nets
    c = nets.MacCounter(module)
    with torch.no_grad():
        module(*args)
    c.close()
    return int(c.total)


def detector_macs(model, x) -> dict:
    """Dense part (backbone + FPN + RPN head) for one input, and the RoI heads per box, so the
    numbers do not depend on how many detections a particular image produced."""
    import torch
    import nets
    c = nets.MacCounter(model)
    with torch.no_grad():
        feats = model.backbone(x)
        model.rpn.head([v for k, v in feats.items() if k != '0'])
    dense = c.total
    c.close()
    box = _macs(torch.nn.Sequential(model.roi_heads.box_head, model.roi_heads.box_predictor),
                torch.zeros(1, model.backbone.out_channels, 7, 7))
    mask = _macs(torch.nn.Sequential(model.roi_heads.mask_head, model.roi_heads.mask_predictor),
                 torch.zeros(1, model.backbone.out_channels, 14, 14))
    return {'macs': int(dense), 'backboneMacs': _macs(model.backbone.body, x),
            'boxHeadMacsPerRoI': box, 'maskHeadMacsPerDetection': mask,
            'proposalsPerImage': model.rpn._post_nms_top_n['testing'], 'input': list(x.shape),
            'counted': 'multiply-accumulates of Conv/ConvTranspose/Linear layers and the GC '
                       'attention-pooling MatMul; macs = backbone + FPN + RPN head for one input; '
                       'add boxHeadMacsPerRoI per proposal and maskHeadMacsPerDetection per '
                       'detection for the RoI heads'}


def receptive_fields() -> tuple[dict, dict]:
    """Measured theoretical receptive fields of the local-only paths, the numbers the datasets'
    clearances are built around: the widest sideways reach over a row of output positions."""
    import nets
    det = nets.randomised(nets.build_maskrcnn(5, None))
    seg = nets.randomised(nets.Segmenter(19, False))
    out = []
    for fn, h, w, stride, what in (
            (lambda t: det.backbone(t)['0'], 128, 192, 4, 'baseline detector, FPN P2 feature'),
            (seg.logits, 128, 256, 1, 'FCN segmenter, output logit')):
        reach_l, reach_r = 0.0, 0.0
        for x in range(0, w // stride, max(1, (w // stride) // 64)):
            r = nets.receptive_field(fn, h, w, (h // stride) // 2, x)
            reach_l, reach_r = max(reach_l, r['reachLeft']), max(reach_r, r['reachRight'])
        out.append({'of': what, 'maxReachLeftPx': reach_l, 'maxReachRightPx': reach_r,
                    'inputSize': [h, w]})
    return out[0], out[1]


def step_export(timer: Timer) -> list[dict]:
    """Export every model into work/staging and describe it for the manifest."""
    import torch
    import export
    import gen_cityscapes
    import gen_coco
    import nets
    import reference
    common.setup_torch(0)
    t0 = time.time()
    shutil.rmtree(STAGING, ignore_errors=True)
    gt = common.load_json(common.COCO_VAL_JSON)
    cats = sorted(gt['categories'], key=lambda c: c['id'])
    ref_images = reference.choose_coco_images(gt)
    det_rf, seg_rf = receptive_fields()
    entries = []
    for model_id, variant, form, opset in DETECTORS:
        model = load_det(variant)
        stock = nets.for_export(model)
        folder = os.path.join(STAGING, 'models', model_id)
        ref_dir = os.path.join(STAGING, 'reference', model_id)
        meta = {'scale': [192, 128], 'pth': rel(os.path.join(_train_dir('det', variant), 'final.pt')),
                'config': 'models/zoo/nets.py:build_maskrcnn'}
        if form == 'mmdeploy':
            onnx_path = export.export_det_end2end(stock, folder, opset, meta)
            reference.det_end2end(stock, ref_images, ref_dir, model_id)
            files = [(onnx_path, 'onnx')] + [(os.path.join(folder, f), f'mmdeploy-{f[:-5]}')
                                             for f in ('deploy.json', 'pipeline.json', 'detail.json')]
            pre = {'kind': 'mmdeploy', 'resize': {'keepRatio': True, 'scale': [192, 128]},
                   'normalize': {'mean': export.MEAN, 'std': export.STD}, 'padSizeDivisor': 32,
                   'scaleToUnit': False, 'batchAxis': True, 'colorOrder': 'RGB',
                   'interpolation': 'bilinear', 'padValue': 0}
            classes = [{'label': i, 'name': c['name'], 'categoryId': c['id']}
                       for i, c in enumerate(cats)]
            post = {'dets': 'x1,y1,x2,y2,score in the padded input frame; divide by the resize '
                            'scale factors', 'scoreThreshold': stock.roi_heads.score_thresh,
                    'maskThreshold': 0.5, 'masks': 'box-local 28x28 probabilities of the '
                    'predicted class; paste into the box (grid_sample, align_corners=false)',
                    'maxDetections': stock.roi_heads.detections_per_img}
        else:
            os.makedirs(folder, exist_ok=True)
            onnx_path = export.export_det_torchvision(stock, os.path.join(folder, 'model.onnx'),
                                                      opset)
            reference.det_torchvision(stock, ref_images, ref_dir, model_id)
            # What the graph cannot tell, written the way a user would tell the studio: the
            # model was trained with labels 1..K in category-id order (0 = background).
            sidecar = os.path.join(folder, 'model.gcstudio.json')
            common.save_json(sidecar, {'name': model_id, 'labelMapping': 'index-from-1',
                                       'classNames': [c['name'] for c in cats]})
            files = [(onnx_path, 'onnx'), (sidecar, 'gcstudio-sidecar')]
            pre = {'kind': 'torchvision', 'resize': {'keepRatio': True, 'scale': [192, 128]},
                   'normalize': None, 'padSizeDivisor': 0, 'scaleToUnit': True,
                   'batchAxis': False, 'colorOrder': 'RGB', 'inGraph': {
                       'minSize': 128, 'maxSize': 192, 'mean': [v / 255 for v in export.MEAN],
                       'std': [v / 255 for v in export.STD], 'sizeDivisible': 32}}
            classes = [{'label': i + 1, 'name': c['name'], 'categoryId': c['id']}
                       for i, c in enumerate(cats)]
            post = {'boxes': 'x1,y1,x2,y2 in image coordinates', 'labels': '1..K (0 is '
                    'background, never emitted)', 'scoreThreshold': stock.roi_heads.score_thresh,
                    'maskThreshold': 0.5, 'masks': 'full-image soft masks [N,1,H,W]',
                    'maxDetections': stock.roi_heads.detections_per_img,
                    'emptyOutput': 'zero detections can make torchvision exports fail '
                                   '(pytorch/vision#2251): treat an error as no detections'}
        x, _, _ = __import__('eval_det').preprocess(gen_coco.load_rgb(
            os.path.join(common.COCO_VAL_DIR, ref_images[0]['file_name'])))
        flops = detector_macs(stock, x)
        ratio = stock.backbone.body.gc_blocks()
        gc = None
        if ratio:
            r = {'gc_r4': 0.25, 'gc_r16': 0.0625}[variant]
            gc = {'ratio': r, 'position': 'after_conv3', 'pooling': 'att',
                  'fusion': ['channel_add'], 'stages': ['c3', 'c4', 'c5'], 'blocks': ratio}
        entries.append({
            'id': model_id, 'task': 'instance-segmentation',
            'format': 'mmdeploy-mmdet-end2end' if form == 'mmdeploy' else 'torchvision-maskrcnn',
            'variant': variant, 'dataset': 'signal-shapes', 'opset': opset,
            '_files': files, '_onnx': onnx_path, '_ref': os.path.join(ref_dir, 'index.json'),
            'classes': classes, 'preprocessing': pre, 'postprocessing': post, 'gc': gc,
            'params': nets.count_params(stock),
            'flops': flops,
            'architecture': {
                'backbone': 'ResNet-style bottleneck, 7x7 stem + max-pool, widths (c2..c5) %s, '
                            'blocks %s, BN folded into the convs on export'
                            % ('/'.join(map(str, nets.DET_CFG['widths'])),
                               '/'.join(map(str, nets.DET_CFG['blocks']))),
                'neck': 'FPN, %d channels, P2..P5' % nets.DET_CFG['fpn'],
                'heads': 'torchvision Mask R-CNN: RPN on P3..P5 (anchors 32/64/128, 3 ratios), '
                         'RoIAlign on P2..P5, TwoMLPHead %d, mask head %d convs + '
                         'ConvTranspose2d' % (nets.DET_CFG['box_rep'],
                                              len(nets.DET_CFG['mask_layers'])),
                'receptiveField': det_rf},
        })
    for model_id, variant, with_argmax, opset in SEGMENTERS:
        model = load_seg(variant, with_argmax)
        folder = os.path.join(STAGING, 'models', model_id)
        ref_dir = os.path.join(STAGING, 'reference', model_id)
        meta = {'scale': [256, 128], 'num_classes': gen_cityscapes.NUM_CLASSES,
                'pth': rel(os.path.join(_train_dir('seg', variant), 'final.pt')),
                'config': 'models/zoo/nets.py:Segmenter'}
        onnx_path = export.export_seg(model, folder, opset, meta)
        reference.seg(model, reference.choose_city_images(), ref_dir, model_id)
        files = [(onnx_path, 'onnx')] + [(os.path.join(folder, f), f'mmdeploy-{f[:-5]}')
                                         for f in ('deploy.json', 'pipeline.json', 'detail.json')]
        x = torch.zeros(1, 3, 128, 256)
        gc = None
        if model.decode_head.gc_block is not None:
            b = model.decode_head.gc_block
            gc = {'ratio': 0.25, 'position': 'decode_head', 'pooling': 'att',
                  'fusion': ['channel_add'], 'stages': ['head'],
                  'blocks': [{'stage': 'head', 'index': 0, 'channels': b.in_channels,
                              'hidden': b.planes}]}
        deployed = nets.count_params(model) - nets.count_params(model.auxiliary_head)
        entries.append({
            'id': model_id, 'task': 'semantic-segmentation', 'format': 'mmdeploy-mmseg-end2end',
            'variant': variant, 'dataset': 'bus-stop-streets', 'opset': opset,
            '_files': files, '_onnx': onnx_path, '_ref': os.path.join(ref_dir, 'index.json'),
            'classes': [{'trainId': c[2], 'name': c[0], 'labelId': c[1], 'color': list(c[4])}
                        for c in gen_cityscapes.TRAIN_CLASSES],
            'preprocessing': {'kind': 'mmdeploy', 'resize': {'keepRatio': True, 'scale': [256, 128]},
                              'normalize': {'mean': export.MEAN, 'std': export.STD},
                              'padSizeDivisor': 0, 'scaleToUnit': False, 'batchAxis': True,
                              'colorOrder': 'RGB', 'interpolation': 'bilinear'},
            'postprocessing': {'output': 'argmax train ids [1,1,H,W] int64 at input resolution'
                               if with_argmax else 'logits [1,19,H,W] float32 at input resolution',
                               'ignoreTrainId': 255},
            'gc': gc, 'params': deployed,
            'flops': {'macs': _macs(model, x), 'backboneMacs': _macs(model.backbone, x),
                      'input': list(x.shape),
                      'counted': 'multiply-accumulates of Conv/Linear layers and the GC '
                                 'attention-pooling MatMul, auxiliary head excluded'},
            'architecture': {
                'backbone': 'dilated ResNet-style bottleneck (output stride 8), widths %s, '
                            'blocks %s, dilations %s'
                            % ('/'.join(map(str, nets.SEG_CFG['widths'])),
                               '/'.join(map(str, nets.SEG_CFG['blocks'])),
                               '/'.join(map(str, nets.SEG_CFG['dilations']))),
                'head': ('mmseg GCHead: conv, GC block (r4), conv, concat with c5, conv, '
                         'classifier') if gc else
                        'mmseg FCNHead: 2 convs, concat with c5, conv, classifier',
                'trainingOnly': 'auxiliary FCN head on c4 (weight 0.4), not exported',
                'receptiveField': seg_rf},
        })
    timer.record('export', time.time() - t0)
    common.save_json(os.path.join(STAGING, 'entries.json'), entries)
    return entries


def expected_outputs(e: dict) -> list[str]:
    if e['format'] == 'torchvision-maskrcnn':
        return ['boxes', 'labels', 'scores', 'masks']
    if e['task'] == 'instance-segmentation':
        return ['dets', 'labels', 'masks']
    return ['output']


def step_check(timer: Timer, entries: list[dict]) -> dict:
    import export
    t0 = time.time()
    problems = []
    total = 0
    for e in entries:
        d = export.describe(e['_onnx'])
        e['onnx'] = d
        total += sum(os.path.getsize(p) for p, _ in e['_files'])
        n_gc = len(e['gc']['blocks']) if e['gc'] else 0
        outs = [o['name'] for o in d['outputs']]
        if outs != expected_outputs(e):
            problems.append(f"{e['id']}: outputs {outs}")
        if d['opset'] != e['opset']:
            problems.append(f"{e['id']}: opset {d['opset']} != {e['opset']}")
        if d['opset'] >= 17:
            if d['layer_norm_nodes'] != n_gc:
                problems.append(f"{e['id']}: {d['layer_norm_nodes']} LayerNormalization, want {n_gc}")
            e['layerNorm'] = 'LayerNormalization'
        else:
            if d['layer_norm_nodes'] != 0 or d['reduce_mean_nodes'] < 2 * n_gc:
                problems.append(f"{e['id']}: LayerNorm not decomposed")
            e['layerNorm'] = 'decomposed (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add)'
        found = export.gc_patterns(e['_onnx'])
        want = [(b['channels'], b['hidden']) for b in (e['gc']['blocks'] if e['gc'] else [])]
        if [(f['channels'], f['hidden']) for f in found] != want:
            problems.append(f"{e['id']}: GC patterns in the graph {found} != blocks {want}")
        want_ln = 'LayerNormalization' if d['opset'] >= 17 else 'decomposed'
        if any(f['layerNorm'] != want_ln for f in found):
            problems.append(f"{e['id']}: LayerNorm form {[f['layerNorm'] for f in found]}")
        e['gcPatternsFound'] = len(found)
        if d['opset'] >= 16 and any(m != 'output_half_pixel' for m in d['roialign_modes']):
            problems.append(f"{e['id']}: RoiAlign modes {d['roialign_modes']}")
        if d['bytes'] > MAX_MODEL_BYTES:
            problems.append(f"{e['id']}: {d['bytes']} bytes > 15 MB")
    demo = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(common.DEMO)
               for f in fs)
    refs = sum(os.path.getsize(os.path.join(dp, f))
               for dp, _, fs in os.walk(os.path.join(STAGING, 'reference')) for f in fs)
    sizes = {'models': total, 'demoData': demo, 'referenceFixtures': refs,
             'total': total + demo + refs}
    if sizes['total'] > MAX_TOTAL_BYTES:
        problems.append(f'total shipped size {sizes["total"]} > 60 MB')
    if problems:
        common.die('check failed:\n  ' + '\n  '.join(problems))
    candidate = os.path.join(STAGING, 'manifest.json')
    manifest = build_manifest(entries, sizes, staging=True)
    common.save_json(candidate, manifest)
    run_parity(candidate)
    trap_self_test(manifest, entries)
    timer.record('check', time.time() - t0)
    common.log('check: graphs as expected, onnxruntime parity passed')
    return sizes


def run_parity(manifest_path: str, expect_pass: bool = True) -> str:
    env = dict(os.environ, ZOO_MANIFEST=rel(manifest_path))
    cmd = ['npx', 'vitest', 'run', 'test/unit/zoo', '--reporter=dot']
    common.log('parity: ' + ' '.join(cmd) + f' (ZOO_MANIFEST={rel(manifest_path)})')
    r = subprocess.run(cmd, cwd=common.REPO, env=env, capture_output=True, text=True)
    if expect_pass and r.returncode != 0:
        sys.stderr.write(r.stdout[-8000:] + r.stderr[-4000:])
        common.die('onnxruntime parity test failed; nothing was published')
    return r.stdout + r.stderr


def trap_self_test(manifest: dict, entries: list[dict]) -> None:
    """Prove the parity test catches the RoiAlign trap: strip coordinate_transformation_mode
    from each opset >= 16 detector and expect the test to fail on it."""
    import re
    import onnx
    for m, e in zip(manifest['models'], entries):
        if not e['onnx']['roialign_modes'] or e['onnx']['opset'] < 16:
            continue
        broken = os.path.join(STAGING, 'trap', m['id'] + '.onnx')
        os.makedirs(os.path.dirname(broken), exist_ok=True)
        model = onnx.load(e['_onnx'])
        stack = [model.graph]
        while stack:
            g = stack.pop()
            for n in g.node:
                stack += [a.g for a in n.attribute if a.type == onnx.AttributeProto.GRAPH]
                if n.op_type == 'RoiAlign':
                    for a in [a for a in n.attribute if a.name == 'coordinate_transformation_mode']:
                        n.attribute.remove(a)
        onnx.save(model, broken)
        mm = json.loads(json.dumps(m))
        mm['onnx']['path'] = rel(broken)
        mm['files'] = [{'path': rel(broken), 'role': 'onnx', 'sha256': common.sha256(broken)}]
        path = os.path.join(STAGING, 'trap', 'manifest.json')
        common.save_json(path, dict(manifest, models=[mm]))
        out = run_parity(path, expect_pass=False)
        if not re.search(r'Tests\s.*\d+ failed', re.sub(r'\x1b\[[0-9;]*m', '', out)):
            common.die(f"{m['id']}: parity test did not notice RoiAlign without output_half_pixel")
        # The moved boxes show either as values out of tolerance or, when the shift changes
        # which boxes survive NMS, as a different number of detections.
        plain = re.sub(r'\x1b\[[0-9;]*m', '', out)
        errs = [float(x) for x in re.findall(r'max abs err ([0-9.eE+-]+)', plain)]
        first = re.search(r'AssertionError: (.*)', plain)
        e['trapCheck'] = {'stripped': 'coordinate_transformation_mode', 'parityFails': True,
                          'maxAbsErrorSeen': max(errs) if errs else None,
                          'firstFailure': first.group(1).strip() if first else None}
        common.log(f"trap self-test {m['id']}: parity fails without the fix "
                   f"({e['trapCheck']['firstFailure']})")


def _final_path(staged: str) -> str:
    """work/staging/models/x -> models/x ; work/staging/reference/x -> models/reference/x"""
    r = os.path.relpath(staged, STAGING)
    if r.startswith('models' + os.sep):
        return os.path.join(common.MODELS, r[len('models') + 1:])
    return os.path.join(common.MODELS, r)


def build_manifest(entries: list[dict], sizes: dict, staging: bool) -> dict:
    import numpy
    import onnx
    import torch
    import torchvision
    timings = common.load_json(TIMINGS)
    models = []
    for e in entries:
        place = (lambda p: p) if staging else _final_path
        det = e['task'] == 'instance-segmentation'
        kind = 'det' if det else 'seg'
        variant = e['variant']
        info = common.load_json(os.path.join(_train_dir(kind, variant), 'train_info.json'))
        mkey = f'{kind}_{variant}' + ('_torchvision' if e['format'] == 'torchvision-maskrcnn'
                                      else '')
        metrics = common.load_json(os.path.join(common.WORK, 'metrics', f'{mkey}.json'))
        if det:
            mm = {'split': 'val', 'images': metrics['num_images'],
                  'bbox': {k: round(v, 4) for k, v in metrics['bbox'].items()},
                  'segm': {k: round(v, 4) for k, v in metrics['segm'].items()},
                  'bboxPerClassAP': {str(k): round(v, 4) for k, v in
                                     metrics['bbox_per_class_AP'].items()},
                  'segmPerClassAP': {str(k): round(v, 4) for k, v in
                                     metrics['segm_per_class_AP'].items()},
                  'evaluator': 'models/zoo/coco_eval.py (COCOeval semantics)',
                  'pycocotoolsMaxAbsDiff': metrics.get('pycocotools_max_abs_diff'),
                  'gcAttention': metrics.get('gc_attention')}
        else:
            mm = {'split': 'val', 'images': metrics['num_images'], 'mIoU': round(metrics['mIoU'], 4),
                  'perClassIoU': metrics['per_class_IoU'],
                  'pixelAccuracy': round(metrics['pixel_acc'], 4),
                  'evaluator': 'models/zoo/train_seg.py (cityscapesScripts semantics)',
                  'gcAttention': metrics.get('gc_attention')}
        files = [{'path': rel(place(p)), 'role': role, 'sha256': common.sha256(p),
                  'bytes': os.path.getsize(p)} for p, role in e['_files']]
        models.append({
            'id': e['id'], 'task': e['task'], 'format': e['format'], 'dataset': e['dataset'],
            'files': files,
            'onnx': {'path': rel(place(e['_onnx'])), 'opset': e['onnx']['opset'],
                     'layerNorm': e['layerNorm'], 'inputs': e['onnx']['inputs'],
                     'outputs': e['onnx']['outputs'],
                     'roiAlignModes': e['onnx']['roialign_modes'] or None,
                     'roiAlignTrapCheck': e.get('trapCheck'),
                     'gcPatternsFound': e.get('gcPatternsFound')},
            'classes': e['classes'], 'preprocessing': e['preprocessing'],
            'postprocessing': e['postprocessing'], 'gc': e['gc'], 'params': e['params'],
            'flops': e['flops'], 'architecture': e['architecture'],
            'training': {'seconds': info['train_seconds'], 'iterations': info['iters'],
                         'batchSize': info['batch_size'],
                         'imagesSeen': info['iters'] * info['batch_size'],
                         'trainImages': info['train_images'], 'learningRate': info['lr'],
                         'optimizer': info['optimizer'],
                         'schedule': info.get('schedule', 'linear warmup + cosine'),
                         'seed': info['seed'], 'threads': info.get('threads', common.THREADS),
                         'sharedWeightsWith': ('mask-rcnn-gc-r4'
                                               if e['id'] == 'mask-rcnn-gc-r4-torchvision' else
                                               'gc-head' if e['id'] == 'gc-head-logits' else None)},
            'metrics': mm,
            'reference': rel(place(e['_ref'])),
        })
    return {
        'schemaVersion': 1,
        'generatedBy': 'models/zoo/run.py',
        'environment': {'python': platform.python_version(), 'torch': torch.__version__,
                        'torchvision': torchvision.__version__, 'onnx': onnx.__version__,
                        'numpy': numpy.__version__, 'threads': common.THREADS},
        'datasets': {
            'signal-shapes': {'format': 'coco', 'root': 'resources/demo/coco',
                              'annotations': rel(common.COCO_VAL_JSON),
                              'images': rel(common.COCO_VAL_DIR), 'split': 'val',
                              'valImages': COCO_VAL, 'trainImages': COCO_TRAIN,
                              'globalCue': 'a signal strip at the left or right edge (yellow = day, blue = night) '
                                           'decides day vs night discs and squares, at least 72 px away'},
            'bus-stop-streets': {'format': 'cityscapes', 'root': 'resources/demo/cityscapes',
                                 'split': 'val', 'valImages': CITY_VAL, 'trainImages': CITY_TRAIN,
                                 'globalCue': 'a sign at the far image edge (blue bus stop / red '
                                              'no-bus) decides bus vs truck, at least 84 px away'},
        },
        'timings': timings,
        'sizes': sizes,
        'models': models,
    }


def step_publish(timer: Timer, entries: list[dict], sizes: dict, force: bool) -> dict:
    """Copy staged files into models/, refusing to clobber files edited since the manifest."""
    t0 = time.time()
    old = common.load_json(MANIFEST) if os.path.exists(MANIFEST) else {'models': []}
    recorded = {f['path']: f['sha256'] for m in old.get('models', []) for f in m['files']}
    conflicts = []
    for e in entries:
        for p, _ in e['_files']:
            dst = _final_path(p)
            r = rel(dst)
            if os.path.exists(dst):
                have = common.sha256(dst)
                if r not in recorded or recorded[r] != have:
                    conflicts.append(f'{r}: sha256 {have[:12]}... differs from the manifest '
                                     f'({recorded.get(r, "not listed")[:12]}...)')
    if conflicts and not force:
        common.die('refusing to overwrite shipped models that differ from models/manifest.json '
                   '(pass --force to overwrite):\n  ' + '\n  '.join(conflicts))
    manifest = build_manifest(entries, sizes, staging=False)
    for e in entries:
        for p, _ in e['_files']:
            dst = _final_path(p)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copyfile(p, dst)
    ref_src = os.path.join(STAGING, 'reference')
    ref_dst = os.path.join(common.MODELS, 'reference')
    shutil.rmtree(ref_dst, ignore_errors=True)
    shutil.copytree(ref_src, ref_dst)
    # Models that are no longer produced would keep stale files: drop them.
    keep = {e['id'] for e in entries}
    for name in os.listdir(common.MODELS):
        full = os.path.join(common.MODELS, name)
        if os.path.isdir(full) and name not in keep | {'zoo', 'reference'}:
            shutil.rmtree(full)
    common.save_json(MANIFEST, manifest)
    run_parity(MANIFEST)
    timer.record('publish', time.time() - t0)
    manifest['timings'] = dict(timer.data)
    common.save_json(MANIFEST, manifest)
    write_readme_results(manifest)
    common.log(f'publish: {len(entries)} models, manifest written')
    return manifest


# ---------------------------------------------------------------------------------------------


def _ap(x: float) -> str:
    return f'{100 * x:.1f}'


def bar_lines(by_id: dict) -> list[str]:
    """The issue's quality bars for the detectors, stated as met or not, from the numbers."""
    base = by_id.get('mask-rcnn-baseline')
    out = []
    if not base:
        return out
    for k in ('mask-rcnn-gc-r16', 'mask-rcnn-gc-r4'):
        if k not in by_id:
            continue
        g = by_id[k]['metrics']
        for t, name in (('bbox', 'box'), ('segm', 'mask')):
            ap = g[t]['AP']
            gap = 100 * (ap - base['metrics'][t]['AP'])
            out.append(f"- bar `{k}` {name} AP >= 50: {'met' if ap >= 0.5 else 'NOT met'} "
                       f"({100 * ap:.1f}); ahead of the baseline by >= 2 points: "
                       f"{'met' if gap >= 2 else 'NOT met'} ({gap:+.1f})")
    return out


def write_readme_results(manifest: dict) -> None:
    path = os.path.join(common.ZOO, 'README.md')
    with open(path) as f:
        text = f.read()
    start, end = '<!-- results:start -->', '<!-- results:end -->'
    if start not in text:
        return
    lines = [start, '', '_Generated by `run.py` from `models/manifest.json`; do not edit by hand._',
             '']
    lines += ['### Detectors (signal-shapes val, %d images)' % COCO_VAL, '',
              '| model | format | opset | GC blocks | params | dense MACs | box AP | AP50 | AP75 | mask AP '
              '| mask AP50 | train s | file MB |',
              '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    by_id = {m['id']: m for m in manifest['models']}
    for m in manifest['models']:
        if m['task'] != 'instance-segmentation':
            continue
        b, s = m['metrics']['bbox'], m['metrics']['segm']
        gc = (f"{len(m['gc']['blocks'])} x r{round(1 / m['gc']['ratio'])}" if m['gc'] else '-')
        mb = sum(f['bytes'] for f in m['files'] if f['role'] == 'onnx') / 2 ** 20
        lines.append(f"| `{m['id']}` | {m['format']} | {m['onnx']['opset']} | {gc} | "
                     f"{m['params'] / 1e6:.2f} M | {m['flops']['macs'] / 1e6:.0f} M | {_ap(b['AP'])} | "
                     f"{_ap(b['AP50'])} | {_ap(b['AP75'])} | {_ap(s['AP'])} | {_ap(s['AP50'])} | "
                     f"{m['training']['seconds']:.0f} | {mb:.1f} |")
    base = by_id.get('mask-rcnn-baseline')
    if base:
        lines += ['']
        for k in ('mask-rcnn-gc-r16', 'mask-rcnn-gc-r4'):
            if k in by_id:
                g = by_id[k]['metrics']
                lines.append(f"- `{k}` vs baseline: box AP {100 * (g['bbox']['AP'] - base['metrics']['bbox']['AP']):+.1f}, "
                             f"mask AP {100 * (g['segm']['AP'] - base['metrics']['segm']['AP']):+.1f} points")
        if 'mask-rcnn-gc-r16' in by_id and 'mask-rcnn-gc-r4' in by_id:
            a, b = by_id['mask-rcnn-gc-r4']['metrics'], by_id['mask-rcnn-gc-r16']['metrics']
            lines.append(f"- r4 vs r16: box AP {100 * (a['bbox']['AP'] - b['bbox']['AP']):+.1f}, "
                         f"mask AP {100 * (a['segm']['AP'] - b['segm']['AP']):+.1f} points")
    lines += bar_lines(by_id)
    lines += ['', '### Segmenters (bus-stop-streets val, %d images)' % CITY_VAL, '',
              '| model | output | opset | params | MACs | mIoU | bus IoU | truck IoU | car IoU | '
              'train s | file MB |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for m in manifest['models']:
        if m['task'] != 'semantic-segmentation':
            continue
        pc = m['metrics']['perClassIoU']
        mb = sum(f['bytes'] for f in m['files'] if f['role'] == 'onnx') / 2 ** 20
        out = 'argmax' if 'argmax' in m['postprocessing']['output'] else 'logits'
        f = lambda v: '-' if v is None else _ap(v)  # noqa: E731
        lines.append(f"| `{m['id']}` | {out} | {m['onnx']['opset']} | {m['params'] / 1e6:.2f} M | "
                     f"{m['flops']['macs'] / 1e6:.0f} M | {_ap(m['metrics']['mIoU'])} | "
                     f"{f(pc.get('bus'))} | {f(pc.get('truck'))} | {f(pc.get('car'))} | "
                     f"{m['training']['seconds']:.0f} | {mb:.1f} |")
    fcn, gch = by_id.get('fcn-baseline'), by_id.get('gc-head')
    if fcn and gch:
        d = gch['metrics']['mIoU'] - fcn['metrics']['mIoU']
        lines += ['', f"- bar: GC head mIoU above the FCN baseline: "
                      f"{'met' if d > 0 else 'NOT met'} ({d * 100:+.1f} points)"]
    att = [(m['id'], a) for m in manifest['models'] if m['id'] in (
        'mask-rcnn-gc-r16', 'mask-rcnn-gc-r4', 'gc-head') for a in (m['metrics'].get('gcAttention') or [])]
    if att:
        lines += ['', '### Where the GC blocks look (attention mass on the cue, val)', '',
                  '| model | block | attention on cue | uniform share | context separation day/night '
                  '(bus/truck) |', '| --- | --- | --- | --- | --- |']
        lines += [f"| `{i}` | {a['block']} | {a['attentionOnCue']:.2f} | {a['uniformShareOfCue']:.2f} | "
                  f"{a['contextSeparation']:.1f} |" for i, a in att]
    t = manifest['timings']
    lines += ['', '### Step timings (wall-clock seconds on the shared 2-core machine; the five '
              'trainings ran in parallel, one thread each)', '',
              '| step | seconds |', '| --- | --- |']
    lines += [f'| {k} | {v:.0f} |' for k, v in t.items()]
    lines += [f"| **total** | **{sum(t.values()):.0f}** |", '']
    s = manifest['sizes']
    lines += [f"Shipped sizes: models {s['models'] / 2 ** 20:.1f} MB, demo data "
              f"{s['demoData'] / 2 ** 20:.1f} MB, reference fixtures "
              f"{s['referenceFixtures'] / 2 ** 20:.1f} MB, total {s['total'] / 2 ** 20:.1f} MB.", '',
              end]
    a, b = text.index(start), text.index(end) + len(end)
    with open(path, 'w') as fh:
        fh.write(text[:a] + '\n'.join(lines) + text[b:])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument('--force', action='store_true',
                    help='overwrite shipped models even if they differ from the manifest')
    ap.add_argument('--steps', default='data,train,eval,export,check,publish',
                    help='comma-separated subset of the steps (for development)')
    a = ap.parse_args()
    steps = a.steps.split(',')
    timer = Timer()
    t0 = time.time()
    if 'data' in steps:
        step_data(timer)
    if 'train' in steps:
        step_train(timer)
    if 'eval' in steps:
        step_eval(timer)
    entries = None
    if 'export' in steps:
        entries = step_export(timer)
    if 'check' in steps or 'publish' in steps:
        if entries is None:
            entries = common.load_json(os.path.join(STAGING, 'entries.json'))
        sizes = step_check(timer, entries)
        if 'publish' in steps:
            step_publish(timer, entries, sizes, a.force)
    common.log(f'done in {time.time() - t0:.0f} s')


if __name__ == '__main__':
    main()

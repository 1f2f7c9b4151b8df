"""COCO detection / instance-segmentation AP with COCOeval's semantics.

pycocotools is not installed here, so the recipe carries its own evaluator. It follows
cocoapi's PythonAPI/pycocotools/cocoeval.py step by step (greedy matching per IoU threshold
in score order, crowd GTs as ignore regions, monotone precision sampled at 101 recall points,
-1 cells excluded from means) and was checked against a locally built pycocotools on this
recipe's own validation predictions (see README).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

import cocomask

IOU_THRS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True)
REC_THRS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True)
MAX_DETS = [1, 10, 100]
AREA_RNG = [[0, 1e5 ** 2], [0, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
STAT_NAMES = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm',
              'ARl']


def _prepare_results(gt: dict, results: list[dict], iou_type: str) -> list[dict]:
    """COCO.loadRes: results with a bbox get area w*h, segm-only results get the mask area."""
    imgs = {im['id']: im for im in gt['images']}
    out = []
    for i, r in enumerate(results):
        d = dict(r)
        d['id'] = i + 1
        im = imgs[d['image_id']]
        if 'bbox' in d and d['bbox'] != []:
            x, y, w, h = d['bbox']
            d['area'] = w * h
        elif 'segmentation' in d:
            d['area'] = float(cocomask.segmentation_to_mask(d['segmentation'], im['height'],
                                                            im['width']).sum())
        if iou_type == 'segm':
            d['_mask'] = cocomask.segmentation_to_mask(d['segmentation'], im['height'],
                                                       im['width'])
        out.append(d)
    return out


def evaluate(gt: dict, results: list[dict], iou_type: str) -> dict:
    """Return {'stats': {name: value}, 'precision': array [T,R,K,A,M]}."""
    assert iou_type in ('bbox', 'segm')
    imgs = {im['id']: im for im in gt['images']}
    img_ids = sorted(imgs)
    cat_ids = sorted(c['id'] for c in gt['categories'])
    gts_by = defaultdict(list)
    for a in gt['annotations']:
        g = dict(a)
        g['ignore'] = bool(g.get('iscrowd', 0))
        if iou_type == 'segm':
            im = imgs[g['image_id']]
            g['_mask'] = cocomask.segmentation_to_mask(g['segmentation'], im['height'],
                                                       im['width'])
        gts_by[g['image_id'], g['category_id']].append(g)
    dts_by = defaultdict(list)
    for d in _prepare_results(gt, results, iou_type):
        dts_by[d['image_id'], d['category_id']].append(d)

    max_det = MAX_DETS[-1]
    ious = {}
    for i in img_ids:
        for c in cat_ids:
            g, d = gts_by[i, c], dts_by[i, c]
            if not g and not d:
                ious[i, c] = np.zeros((0, 0))
                continue
            order = np.argsort([-x['score'] for x in d], kind='mergesort')
            d = [d[k] for k in order][:max_det]
            crowd = np.array([int(x.get('iscrowd', 0)) for x in g])
            if iou_type == 'bbox':
                db = np.array([x['bbox'] for x in d], dtype=np.float64).reshape(-1, 4)
                gb = np.array([x['bbox'] for x in g], dtype=np.float64).reshape(-1, 4)
                ious[i, c] = cocomask.box_iou(db, gb, crowd)
            else:
                ious[i, c] = cocomask.mask_iou([x['_mask'] for x in d], [x['_mask'] for x in g],
                                               crowd)

    T, R, K, A, M = len(IOU_THRS), len(REC_THRS), len(cat_ids), len(AREA_RNG), len(MAX_DETS)
    eval_imgs = {}
    for ki, c in enumerate(cat_ids):
        for ai, arng in enumerate(AREA_RNG):
            for i in img_ids:
                eval_imgs[ki, ai, i] = _evaluate_img(gts_by[i, c], dts_by[i, c], ious[i, c], arng,
                                                     max_det)

    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for ki in range(K):
        for ai in range(A):
            for mi, md in enumerate(MAX_DETS):
                E = [eval_imgs[ki, ai, i] for i in img_ids]
                E = [e for e in E if e is not None]
                if not E:
                    continue
                scores = np.concatenate([e['dtScores'][0:md] for e in E])
                inds = np.argsort(-scores, kind='mergesort')
                dtm = np.concatenate([e['dtMatches'][:, 0:md] for e in E], axis=1)[:, inds]
                dt_ig = np.concatenate([e['dtIgnore'][:, 0:md] for e in E], axis=1)[:, inds]
                gt_ig = np.concatenate([e['gtIgnore'] for e in E])
                npig = np.count_nonzero(gt_ig == 0)
                if npig == 0:
                    continue
                tps = np.logical_and(dtm, np.logical_not(dt_ig))
                fps = np.logical_and(np.logical_not(dtm), np.logical_not(dt_ig))
                tp_sum = np.cumsum(tps, axis=1).astype(np.float64)
                fp_sum = np.cumsum(fps, axis=1).astype(np.float64)
                for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                    nd = len(tp)
                    rc = tp / npig
                    pr = tp / (fp + tp + np.spacing(1))
                    recall[t, ki, ai, mi] = rc[-1] if nd else 0
                    pr = pr.tolist()
                    for j in range(nd - 1, 0, -1):
                        if pr[j] > pr[j - 1]:
                            pr[j - 1] = pr[j]
                    q = np.zeros(R)
                    idx = np.searchsorted(rc, REC_THRS, side='left')
                    # Recall thresholds past the last reached recall stay 0 (the reference
                    # stops at the first IndexError).
                    for ri, pi in enumerate(idx):
                        if pi >= nd:
                            break
                        q[ri] = pr[pi]
                    precision[t, :, ki, ai, mi] = q

    def summarize(ap: bool, iou_thr=None, area=0, max_dets=100) -> float:
        mi = MAX_DETS.index(max_dets)
        if ap:
            s = precision[:, :, :, area, mi]
            if iou_thr is not None:
                s = s[np.where(np.isclose(IOU_THRS, iou_thr))[0]]
        else:
            s = recall[:, :, area, mi]
            if iou_thr is not None:
                s = s[np.where(np.isclose(IOU_THRS, iou_thr))[0]]
        s = s[s > -1]
        return float(np.mean(s)) if s.size else -1.0

    vals = [summarize(True), summarize(True, 0.5), summarize(True, 0.75),
            summarize(True, area=1), summarize(True, area=2), summarize(True, area=3),
            summarize(False, max_dets=1), summarize(False, max_dets=10), summarize(False),
            summarize(False, area=1), summarize(False, area=2), summarize(False, area=3)]
    per_class = {}
    for ki, c in enumerate(cat_ids):
        s = precision[:, :, ki, 0, -1]
        s = s[s > -1]
        per_class[c] = float(np.mean(s)) if s.size else -1.0
    return {'stats': dict(zip(STAT_NAMES, vals)), 'per_class_AP': per_class,
            'precision': precision}


def _evaluate_img(gt: list[dict], dt: list[dict], ious: np.ndarray, arng, max_det: int):
    if not gt and not dt:
        return None
    g_ignore = [1 if (g['ignore'] or g['area'] < arng[0] or g['area'] > arng[1]) else 0
                for g in gt]
    gtind = np.argsort(g_ignore, kind='mergesort')
    gt = [gt[i] for i in gtind]
    g_ig = np.array([g_ignore[i] for i in gtind])
    dtind = np.argsort([-d['score'] for d in dt], kind='mergesort')
    dt = [dt[i] for i in dtind[0:max_det]]
    iscrowd = [int(g.get('iscrowd', 0)) for g in gt]
    if ious.size:
        ious = ious[:, gtind]
    T, G, D = len(IOU_THRS), len(gt), len(dt)
    gtm = np.zeros((T, G))
    dtm = np.zeros((T, D))
    dt_ig = np.zeros((T, D))
    if ious.size:
        for ti, t in enumerate(IOU_THRS):
            for di, d in enumerate(dt):
                iou = min([t, 1 - 1e-10])
                m = -1
                for gi in range(G):
                    if gtm[ti, gi] > 0 and not iscrowd[gi]:
                        continue
                    if m > -1 and g_ig[m] == 0 and g_ig[gi] == 1:
                        break
                    if ious[di, gi] < iou:
                        continue
                    iou = ious[di, gi]
                    m = gi
                if m == -1:
                    continue
                dt_ig[ti, di] = g_ig[m]
                dtm[ti, di] = gt[m]['id']
                gtm[ti, m] = d['id']
    a = np.array([d['area'] < arng[0] or d['area'] > arng[1] for d in dt]).reshape((1, D))
    dt_ig = np.logical_or(dt_ig, np.logical_and(dtm == 0, np.repeat(a, T, 0)))
    return {'dtMatches': dtm, 'dtScores': np.array([d['score'] for d in dt]),
            'gtIgnore': g_ig, 'dtIgnore': dt_ig}

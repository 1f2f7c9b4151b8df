"""The usual pycocotools evaluation script, as a whole process: load, loadRes, evaluate,
accumulate, summarize. Calls the tool; contains none of its code.

usage: pycocotoolsScript.py GT DETS bbox|segm
"""
import sys

import numpy as np

np.float = float  # cocoapi's cocoeval.py still uses the alias numpy 1.24 removed
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

gt_file, det_file, iou_type = sys.argv[1:4]
gt = COCO(gt_file)
dt = gt.loadRes(det_file)
ev = COCOeval(gt, dt, iou_type)
ev.evaluate()
ev.accumulate()
ev.summarize()

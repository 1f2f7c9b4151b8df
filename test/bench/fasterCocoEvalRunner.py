"""Evaluates COCO results with faster-coco-eval (the C++ COCOeval), as a researcher's script
would: load ground truth and results, evaluate, accumulate, summarize. Calls the tool; contains
none of its code. Built beside the project as test/bench/README.md says.

usage: fasterCocoEvalRunner.py GT DETS bbox|segm
"""
import sys

from faster_coco_eval import COCO, COCOeval_faster

gt_file, det_file, iou_type = sys.argv[1:4]
gt = COCO(gt_file)
dt = gt.loadRes(det_file)
ev = COCOeval_faster(gt, dt, iou_type, print_function=print)
ev.evaluate()
ev.accumulate()
ev.summarize()

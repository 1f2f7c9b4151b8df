"""Optional: compare coco_eval.py with a locally built pycocotools on real predictions.

    PYTHONPATH=/path/to/cocoapi/PythonAPI /usr/bin/python3 models/zoo/crosscheck_pycocotools.py \
        [variant [checkpoint]]

pycocotools is not part of the recipe (PyPI is unreachable here); build it outside the
repository from github.com/cocodataset/cocoapi (python setup.py build_ext --inplace).
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import coco_eval  # noqa: E402
import eval_det  # noqa: E402
import run  # noqa: E402

if not hasattr(np, 'float'):
    np.float = float  # cocoeval.py still uses the alias that numpy 1.24 removed

from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402


def compare(ann_path: str, results: dict, mine: dict) -> float:
    """Largest |difference| over the 12 summary numbers, bbox and segm."""
    with contextlib.redirect_stdout(io.StringIO()):
        cgt = COCO(ann_path)
    worst = 0.0
    for t in ('bbox', 'segm'):
        if not results[t]:
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            cdt = cgt.loadRes(copy.deepcopy(results[t]))
            e = COCOeval(cgt, cdt, t)
            e.evaluate()
            e.accumulate()
            e.summarize()
        ours = [mine[t][k] for k in coco_eval.STAT_NAMES]
        worst = max(worst, float(np.max(np.abs(np.array(ours) - e.stats))))
    return worst


def main() -> None:
    common.setup_torch(0)
    gt = common.load_json(common.COCO_VAL_JSON)
    variant = sys.argv[1] if len(sys.argv) > 1 else 'gc_r4'
    if len(sys.argv) > 2:  # an explicit checkpoint, e.g. one taken during training
        import torch
        import nets
        import train_det
        model = nets.build_maskrcnn(len(gt['categories']), train_det.VARIANTS[variant])
        sd = torch.load(sys.argv[2])
        model.load_state_dict(sd.get('model', sd))
    else:
        model = run.load_det(variant)
    r = eval_det.evaluate_model(model.eval(), gt, common.COCO_VAL_DIR)
    with contextlib.redirect_stdout(io.StringIO()):
        cgt = COCO(common.COCO_VAL_JSON)
    worst = 0.0
    for t in ('bbox', 'segm'):
        res = copy.deepcopy(r['results'][t])
        with contextlib.redirect_stdout(io.StringIO()):
            cdt = cgt.loadRes(res)
            e = COCOeval(cgt, cdt, t)
            e.evaluate()
            e.accumulate()
            e.summarize()
        mine = [r[t][k] for k in coco_eval.STAT_NAMES]
        diff = float(np.max(np.abs(np.array(mine) - e.stats)))
        worst = max(worst, diff)
        print(t, 'pycocotools', np.round(e.stats, 4).tolist())
        print(t, 'coco_eval  ', np.round(mine, 4).tolist(), 'max |diff|', diff)
    print(json.dumps({'variant': variant, 'max_abs_diff': worst}))
    sys.exit(0 if worst < 1e-9 else 1)


if __name__ == '__main__':
    main()

"""ONNX exports in the forms users bring: mmdeploy end2end (detector / segmenter folders with
deploy.json, pipeline.json, detail.json) and torchvision's detection export.

No attention outputs are added: the studio has to find the GC blocks in the graph itself.
"""

from __future__ import annotations

import collections
import os

import onnx
import torch

import common
import nets

MMDEPLOY_VERSION = '1.3.1'  # the mmdeploy release whose file layout these folders reproduce
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]

DET_DYNAMIC_AXES = {
    'input': {0: 'batch', 2: 'height', 3: 'width'},
    'dets': {0: 'batch', 1: 'num_dets'},
    'labels': {0: 'batch', 1: 'num_dets'},
    'masks': {0: 'batch', 1: 'num_dets', 2: 'height', 3: 'width'},
}
SEG_DYNAMIC_AXES = {
    'input': {0: 'batch', 2: 'height', 3: 'width'},
    'output': {0: 'batch', 2: 'height', 3: 'width'},
}


def _export(module: torch.nn.Module, args, path: str, opset: int, input_names, output_names,
            dynamic_axes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(module, args, path, opset_version=opset, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic_axes,
                          do_constant_folding=True, export_params=True,
                          keep_initializers_as_inputs=False)
    fix_roialign(path)


def fix_roialign(path: str) -> int:
    """torchvision 0.14 writes RoiAlign without coordinate_transformation_mode. From opset 16
    onnxruntime then defaults to half_pixel (torchvision aligned=True semantics) while the model
    was trained with aligned=False: detections come out silently wrong. Pin output_half_pixel."""
    model = onnx.load(path)
    opset = max(o.version for o in model.opset_import if o.domain in ('', 'ai.onnx'))
    if opset < 16:
        return 0
    fixed = 0
    nodes = list(model.graph.node)
    # RoiAlign can sit inside If branches (torchvision's empty-proposal guards).
    stack = [model.graph]
    while stack:
        g = stack.pop()
        for n in g.node:
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    stack.append(a.g)
            if n.op_type == 'RoiAlign':
                attrs = [a for a in n.attribute if a.name == 'coordinate_transformation_mode']
                for a in attrs:
                    n.attribute.remove(a)
                n.attribute.append(onnx.helper.make_attribute('coordinate_transformation_mode',
                                                              'output_half_pixel'))
                fixed += 1
    del nodes
    onnx.save(model, path)
    return fixed


def describe(path: str) -> dict:
    """What the recipe verifies about each file: opset, LayerNorm form, GC pattern count,
    RoiAlign modes, inputs / outputs, and that no extra outputs were left in."""
    m = onnx.load(path)
    onnx.checker.check_model(m)
    opset = max(o.version for o in m.opset_import if o.domain in ('', 'ai.onnx'))
    ops = collections.Counter()
    roi_modes = []
    stack = [m.graph]
    while stack:
        g = stack.pop()
        for n in g.node:
            ops[n.op_type] += 1
            for a in n.attribute:
                if a.type == onnx.AttributeProto.GRAPH:
                    stack.append(a.g)
            if n.op_type == 'RoiAlign':
                mode = [a.s.decode() for a in n.attribute
                        if a.name == 'coordinate_transformation_mode']
                roi_modes.append(mode[0] if mode else None)

    def dims(vi):
        return [d.dim_param if d.dim_param else d.dim_value for d in vi.type.tensor_type.shape.dim]

    return {
        'opset': opset,
        'layer_norm_nodes': ops.get('LayerNormalization', 0),
        'softmax_nodes': ops.get('Softmax', 0),
        'matmul_nodes': ops.get('MatMul', 0),
        'reduce_mean_nodes': ops.get('ReduceMean', 0),
        'roialign_modes': roi_modes,
        'inputs': [{'name': i.name, 'shape': dims(i)} for i in m.graph.input],
        'outputs': [{'name': o.name, 'shape': dims(o)} for o in m.graph.output],
        'bytes': os.path.getsize(path),
    }


LN_OPS = {'ReduceMean', 'Sub', 'Pow', 'Add', 'Sqrt', 'Div', 'Mul', 'LayerNormalization'}


def gc_patterns(path: str) -> list[dict]:
    """Find GC blocks by the structure FORMATS.md describes, ignoring names:
    X -> Conv[1,C,1,1] -> Reshape -> Softmax(last axis) -> Unsqueeze -> MatMul <- Unsqueeze <-
    Reshape <- X; MatMul -> Reshape -> Conv[P,C,1,1] -> LayerNorm (one node or the decomposed
    chain) -> Relu -> Conv[C,P,1,1] -> Add(X). Returns [{channels, hidden, layerNorm}] in
    graph order: the recipe checks this equals the block list it writes to the manifest."""
    m = onnx.load(path)
    g = m.graph
    prod = {o: n for n in g.node for o in n.output}
    cons: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            cons.setdefault(i, []).append(n)
    shapes = {i.name: list(i.dims) for i in g.initializer}

    def up(t, op):
        p = prod.get(t)
        return p if p is not None and p.op_type == op else None

    def conv_w(n):
        return shapes.get(n.input[1]) if n is not None and len(n.input) > 1 else None

    found = []
    for mm in g.node:
        if mm.op_type != 'MatMul' or len(mm.input) != 2:
            continue
        for a, b in (mm.input, mm.input[::-1]):
            ua, ub = up(a, 'Unsqueeze'), up(b, 'Unsqueeze')
            if ua is None or ub is None:
                continue
            ra = up(ua.input[0], 'Reshape')
            sm = up(ub.input[0], 'Softmax')
            if ra is None or sm is None:
                continue
            rs = up(sm.input[0], 'Reshape')
            cm = up(rs.input[0], 'Conv') if rs is not None else None
            w = conv_w(cm)
            x = ra.input[0]
            if cm is None or w is None or w[0] != 1 or cm.input[0] != x:
                continue
            axis = [at.i for at in sm.attribute if at.name == 'axis']
            if axis and axis[0] not in (-1, 2):
                continue
            # downstream transform
            nxt = cons.get(mm.output[0], [])
            rsh = nxt[0] if len(nxt) == 1 and nxt[0].op_type == 'Reshape' else None
            c1 = cons.get(rsh.output[0], [None])[0] if rsh is not None else None
            if c1 is None or c1.op_type != 'Conv':
                continue
            w1 = conv_w(c1)
            t, ln_ops, relu = c1.output[0], [], None
            for _ in range(12):
                nodes = cons.get(t, [])
                r = [n for n in nodes if n.op_type == 'Relu']
                if r:
                    relu = r[0]
                    break
                chain = [n for n in nodes if n.op_type in LN_OPS]
                if not chain:
                    break
                # follow the node that leads on (the last consumer in the chain order)
                ln_ops += [n.op_type for n in chain]
                t = chain[-1].output[0]
            if relu is None:
                continue
            c2 = cons.get(relu.output[0], [None])[0]
            w2 = conv_w(c2) if c2 is not None and c2.op_type == 'Conv' else None
            add = cons.get(c2.output[0], [None])[0] if w2 is not None else None
            if add is None or add.op_type != 'Add' or x not in add.input:
                continue
            if w1 is None or w1[1] != w[1] or w2[0] != w[1] or w2[1] != w1[0]:
                continue
            found.append({'channels': int(w[1]), 'hidden': int(w1[0]),
                          'layerNorm': 'LayerNormalization' if 'LayerNormalization' in ln_ops
                          else 'decomposed'})
            break
    return found


def export_det_end2end(model, folder: str, opset: int, meta: dict) -> str:
    model.eval()
    wrapper = nets.End2EndDetector(model).eval()
    path = os.path.join(folder, 'end2end.onnx')
    x = torch.zeros(1, 3, 128, 192)
    _export(wrapper, (x,), path, opset, ['input'], ['dets', 'labels', 'masks'], DET_DYNAMIC_AXES)
    _write_mmdeploy_det_json(folder, opset, meta, model)
    return path


def export_det_torchvision(model, path: str, opset: int) -> str:
    """torchvision's own ONNX route (as in its test_onnx.py): one 0..1 RGB image [3,H,W],
    resize / normalise / pad inside the graph, masks pasted to full image size."""
    model.eval()
    x = torch.rand(3, 128, 192)
    _export(model, ([x],), path, opset, ['images_tensors'], ['boxes', 'labels', 'scores', 'masks'],
            {'images_tensors': [1, 2], 'boxes': [0, 1], 'labels': [0], 'scores': [0],
             'masks': [0, 1, 2, 3]})
    return path


def export_seg(model: nets.Segmenter, folder: str, opset: int, meta: dict) -> str:
    model.eval()
    path = os.path.join(folder, 'end2end.onnx')
    x = torch.zeros(1, 3, 128, 256)
    _export(model, (x,), path, opset, ['input'], ['output'], SEG_DYNAMIC_AXES)
    _write_mmdeploy_seg_json(folder, opset, meta, model)
    return path


# --- mmdeploy's SDK files (mmdeploy/backend/sdk/export_info.py writes these three) ----------


def _onnx_config(opset: int, outputs: list[str], dynamic_axes: dict) -> dict:
    return {'type': 'onnx', 'export_params': True, 'keep_initializers_as_inputs': False,
            'opset_version': opset, 'save_file': 'end2end.onnx', 'input_names': ['input'],
            'output_names': outputs, 'input_shape': None, 'optimize': True,
            'dynamic_axes': {k: {str(a): n for a, n in v.items()} for k, v in dynamic_axes.items()}}


def _write_mmdeploy_det_json(folder: str, opset: int, meta: dict, model) -> None:
    name = 'maskrcnn'
    rpn_cfg = {'nms_pre': model.rpn._pre_nms_top_n['testing'],
               'max_per_img': model.rpn._post_nms_top_n['testing'],
               'nms': {'type': 'nms', 'iou_threshold': model.rpn.nms_thresh},
               'min_bbox_size': model.rpn.min_size}
    rcnn_cfg = {'score_thr': model.roi_heads.score_thresh,
                'nms': {'type': 'nms', 'iou_threshold': model.roi_heads.nms_thresh},
                'max_per_img': model.roi_heads.detections_per_img, 'mask_thr_binary': 0.5}
    scale = list(meta['scale'])
    deploy = {'version': MMDEPLOY_VERSION, 'task': 'Detector',
              'models': [{'name': name, 'net': 'end2end.onnx', 'weights': '',
                          'backend': 'onnxruntime', 'precision': 'FP32', 'batch_size': 1,
                          'dynamic_shape': True}],
              'customs': []}
    meta_keys = ['filename', 'ori_filename', 'ori_shape', 'img_shape', 'pad_shape',
                 'scale_factor', 'flip', 'flip_direction', 'img_norm_cfg', 'valid_ratio',
                 'pad_param', 'img_id', 'img_path']
    pipeline = {'pipeline': {'input': ['img'], 'output': ['post_output'], 'tasks': [
        {'type': 'Task', 'module': 'Transform', 'name': 'Preprocess', 'input': ['img'],
         'output': ['prep_output'], 'transforms': [
             {'type': 'LoadImageFromFile', 'backend_args': None},
             {'type': 'Resize', 'keep_ratio': True, 'size': scale},
             {'type': 'Normalize', 'to_rgb': True, 'mean': MEAN, 'std': STD},
             {'type': 'Pad', 'size_divisor': 32},
             {'type': 'DefaultFormatBundle'},
             {'type': 'Collect', 'meta_keys': meta_keys, 'keys': ['img']}]},
        {'name': name, 'type': 'Task', 'module': 'Net', 'is_batched': True,
         'input': ['prep_output'], 'output': ['infer_output'], 'input_map': {'img': 'input'},
         'output_map': {}},
        {'type': 'Task', 'module': 'mmdet', 'name': 'postprocess',
         'component': 'ResizeInstanceMask',
         'params': {'rpn': rpn_cfg, 'rcnn': rcnn_cfg, 'min_bbox_size': rpn_cfg['min_bbox_size'],
                    'score_thr': rcnn_cfg['score_thr'], 'mask_thr_binary': 0.5,
                    'is_resize_mask': True},
         'output': ['post_output'], 'input': ['prep_output', 'infer_output']}]}}
    detail = {'version': MMDEPLOY_VERSION,
              'codebase': {'task': 'InstanceSegmentation', 'codebase': 'mmdet',
                           'version': '3.3.0', 'pth': meta['pth'], 'config': meta['config']},
              'codebase_config': {'type': 'mmdet', 'task': 'InstanceSegmentation',
                                  'model_type': 'end2end', 'post_processing': {
                                      'score_threshold': 0.05, 'confidence_threshold': 0.005,
                                      'iou_threshold': 0.5, 'max_output_boxes_per_class': 200,
                                      'pre_top_k': 5000, 'keep_top_k': 100,
                                      'background_label_id': -1,
                                      'export_postprocess_mask': False}},
              'onnx_config': _onnx_config(opset, ['dets', 'labels', 'masks'], DET_DYNAMIC_AXES),
              'backend_config': {'type': 'onnxruntime'}, 'calib_config': {}}
    for fn, data in (('deploy.json', deploy), ('pipeline.json', pipeline), ('detail.json', detail)):
        common.save_json(os.path.join(folder, fn), data, indent=4)


def _write_mmdeploy_seg_json(folder: str, opset: int, meta: dict, model: nets.Segmenter) -> None:
    gc = model.decode_head.gc_block is not None
    name = 'gc' if gc else 'fcn'  # mmdeploy: decode_head type minus 'Head', lower-cased
    head = {'type': 'GCHead' if gc else 'FCNHead', 'in_channels': model.decode_head.convs[0][0].in_channels,
            'in_index': 3, 'channels': model.decode_head.conv_seg.in_channels, 'num_convs': 2,
            'concat_input': True, 'dropout_ratio': 0.1, 'num_classes': meta['num_classes'],
            'norm_cfg': {'type': 'BN', 'requires_grad': True}, 'align_corners': False,
            'loss_decode': {'type': 'CrossEntropyLoss', 'use_sigmoid': False, 'loss_weight': 1.0}}
    if gc:
        head.update({'ratio': 0.25, 'pooling_type': 'att', 'fusion_types': ['channel_add']})
    head['with_argmax'] = model.with_argmax
    deploy = {'version': MMDEPLOY_VERSION, 'task': 'Segmentor',
              'models': [{'name': name, 'net': 'end2end.onnx', 'weights': '',
                          'backend': 'onnxruntime', 'precision': 'FP32', 'batch_size': 1,
                          'dynamic_shape': True}],
              'customs': []}
    pipeline = {'pipeline': {'input': ['img'], 'output': ['post_output'], 'tasks': [
        {'type': 'Task', 'module': 'Transform', 'name': 'Preprocess', 'input': ['img'],
         'output': ['prep_output'], 'transforms': [
             {'type': 'LoadImageFromFile'},
             {'type': 'Resize', 'keep_ratio': True, 'size': list(meta['scale'])},
             {'type': 'Normalize', 'mean': MEAN, 'std': STD, 'to_rgb': True},
             {'type': 'ImageToTensor', 'keys': ['img']},
             {'type': 'Collect', 'keys': ['img'], 'meta_keys': [
                 'img_shape', 'pad_shape', 'ori_shape', 'img_norm_cfg', 'scale_factor']}]},
        {'name': name, 'type': 'Task', 'module': 'Net', 'is_batched': True,
         'input': ['prep_output'], 'output': ['infer_output'], 'input_map': {'img': 'input'},
         'output_map': {}},
        {'type': 'Task', 'module': 'mmseg', 'name': 'postprocess', 'component': 'ResizeMask',
         'params': head, 'output': ['post_output'], 'input': ['prep_output', 'infer_output']}]}}
    detail = {'version': MMDEPLOY_VERSION,
              'codebase': {'task': 'Segmentation', 'codebase': 'mmseg', 'version': '1.2.2',
                           'pth': meta['pth'], 'config': meta['config']},
              'codebase_config': {'type': 'mmseg', 'task': 'Segmentation',
                                  'with_argmax': model.with_argmax},
              'onnx_config': _onnx_config(opset, ['output'], SEG_DYNAMIC_AXES),
              'backend_config': {'type': 'onnxruntime'}, 'calib_config': {}}
    for fn, data in (('deploy.json', deploy), ('pipeline.json', pipeline), ('detail.json', detail)):
        common.save_json(os.path.join(folder, fn), data, indent=4)

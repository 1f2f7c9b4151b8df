"""Networks: the GC block, a small bottleneck ResNet, Mask R-CNN + FPN, FCN / GC-head segmenters.

The GC block follows mmcv's ContextBlock (pooling_type='att', fusion_types=('channel_add',))
operation by operation, because the studio finds GC blocks in users' ONNX files by the graph
pattern that this forward produces (see shared/design/FORMATS.md): Conv(C->1) -> Reshape ->
Softmax -> Unsqueeze -> MatMul(with Reshape+Unsqueeze of X) -> Reshape -> Conv(C->P) ->
LayerNorm -> Relu -> Conv(P->C) -> Add(X).
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models.detection import MaskRCNN
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor
from torchvision.models.detection.rpn import RegionProposalNetwork
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign


class ContextBlock(nn.Module):
    """Global context block, the GCNet paper's Eq. 5 (mmcv ContextBlock, att + channel_add)."""

    def __init__(self, in_channels: int, ratio: float):
        super().__init__()
        self.in_channels = in_channels
        self.ratio = ratio
        self.planes = int(in_channels * ratio)
        self.conv_mask = nn.Conv2d(in_channels, 1, kernel_size=1)
        self.softmax = nn.Softmax(dim=2)
        self.channel_add_conv = nn.Sequential(
            nn.Conv2d(in_channels, self.planes, kernel_size=1),
            nn.LayerNorm([self.planes, 1, 1]),
            nn.ReLU(inplace=True),
            nn.Conv2d(self.planes, in_channels, kernel_size=1),
        )
        # mmcv: kaiming (fan_in) for conv_mask, and the last transform conv zero-initialised so
        # a fresh block is the identity and cannot disturb early training.
        nn.init.kaiming_normal_(self.conv_mask.weight, mode='fan_in', nonlinearity='relu')
        nn.init.zeros_(self.conv_mask.bias)
        nn.init.kaiming_normal_(self.channel_add_conv[0].weight, mode='fan_in',
                                nonlinearity='relu')
        nn.init.zeros_(self.channel_add_conv[0].bias)
        nn.init.zeros_(self.channel_add_conv[-1].weight)
        nn.init.zeros_(self.channel_add_conv[-1].bias)

    def spatial_pool(self, x: torch.Tensor) -> torch.Tensor:
        batch, channel, height, width = x.size()
        input_x = x.view(batch, channel, height * width)
        input_x = input_x.unsqueeze(1)  # [N, 1, C, HW]
        context_mask = self.conv_mask(x)  # [N, 1, H, W]
        context_mask = context_mask.view(batch, 1, height * width)
        context_mask = self.softmax(context_mask)  # over all positions
        context_mask = context_mask.unsqueeze(-1)  # [N, 1, HW, 1]
        context = torch.matmul(input_x, context_mask)  # [N, 1, C, 1]
        return context.view(batch, channel, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = self.spatial_pool(x)
        return x + self.channel_add_conv(context)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax attention map [N, H, W] (for the README's figures, never exported)."""
        n, _, h, w = x.shape
        return torch.softmax(self.conv_mask(x).view(n, h * w), 1).view(n, h, w)


class Bottleneck(nn.Module):
    """ResNet bottleneck (stride on the 3x3 conv, 'pytorch' style) with an optional GC block
    at mmdet's 'after_conv3' position: after conv3 + norm3, before the residual add."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 gc_ratio: float | None = None):
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=dilation,
                               dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.gc = ContextBlock(out, gc_ratio) if gc_ratio else None
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        if self.gc is not None:
            y = self.gc(y)
        if self.downsample is not None:
            identity = self.downsample(x)
        return self.relu(y + identity)


class ResNet(nn.Module):
    """A narrow ResNet: 7x7 stem + max-pool, four bottleneck stages (c2..c5).

    gc_ratio puts a GC block in every bottleneck of c3, c4 and c5 (mmdet GCNet configs:
    stages=(False, True, True, True)). dilations turn c4/c5 into a dilated (output stride 8)
    backbone for segmentation.
    """

    def __init__(self, widths=(64, 128, 256, 512), blocks=(1, 2, 2, 1), stem=32,
                 gc_ratio: float | None = None, strides=(1, 2, 2, 2), dilations=(1, 1, 1, 1)):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(stem),
            nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, padding=1))
        inplanes = stem
        self.stages = nn.ModuleList()
        for i, (w, n, s, d) in enumerate(zip(widths, blocks, strides, dilations)):
            layers = []
            for j in range(n):
                layers.append(Bottleneck(inplanes, w // 4, stride=s if j == 0 else 1, dilation=d,
                                         gc_ratio=gc_ratio if i >= 1 else None))
                inplanes = w
            self.stages.append(nn.Sequential(*layers))
        self.widths = widths
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and not _inside_gc(self, m):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        # No zero_init_residual: a GC block sits right after norm3, and with a zero-initialised
        # norm3 it would see an all-zero input and learn nothing until norm3 grows, which costs
        # much of a short from-scratch schedule.

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outs = []
        for st in self.stages:
            x = st(x)
            outs.append(x)
        return outs

    def gc_blocks(self) -> list[dict]:
        """The block list for the manifest: stage name, index in stage, channels, hidden."""
        out = []
        for i, st in enumerate(self.stages):
            for j, b in enumerate(st):
                if b.gc is not None:
                    out.append({'stage': f'c{i + 2}', 'index': j, 'channels': b.gc.in_channels,
                                'hidden': b.gc.planes})
        return out


def _inside_gc(root: nn.Module, mod: nn.Module) -> bool:
    for m in root.modules():
        if isinstance(m, ContextBlock) and any(mod is c for c in m.modules()):
            return True
    return False


class BackboneWithFPN(nn.Module):
    def __init__(self, body: ResNet, out_channels: int):
        super().__init__()
        self.body = body
        self.fpn = FeaturePyramidNetwork(list(body.widths), out_channels)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> 'OrderedDict[str, torch.Tensor]':
        feats = self.body(x)
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(feats)))


DET_CFG = {
    'widths': (64, 128, 256, 512),
    # One bottleneck per stage keeps a P2 feature's receptive field at about +-41 px, which the
    # demo data is built around (see gen_coco.py).
    'blocks': (1, 1, 1, 1),
    'stem': 32,
    'fpn': 64,
    'box_rep': 256,
    'mask_layers': (64, 64),
    'box_batch': 32,
    'min_size': 128,
    'max_size': 192,
}


def build_maskrcnn(num_classes: int, gc_ratio: float | None, cfg: dict | None = None) -> MaskRCNN:
    """Mask R-CNN (torchvision) with FPN on the narrow ResNet; num_classes excludes background."""
    cfg = {**DET_CFG, **(cfg or {})}
    body = ResNet(cfg['widths'], cfg['blocks'], cfg['stem'], gc_ratio=gc_ratio)
    backbone = BackboneWithFPN(body, cfg['fpn'])
    names = ['0', '1', '2', '3']
    # Objects here are >= 28 px, so proposals come from P3..P5 only (P2's RPN head would be ~70%
    # of the RPN's cost for anchors that never match); RoIAlign still pools from P2..P5.
    anchors = AnchorGenerator(sizes=((32,), (64,), (128,)), aspect_ratios=((0.5, 1.0, 2.0),) * 3)
    box_pool = MultiScaleRoIAlign(names, output_size=7, sampling_ratio=2)
    mask_pool = MultiScaleRoIAlign(names, output_size=14, sampling_ratio=2)
    f = cfg['fpn']
    model = MaskRCNN(
        backbone, num_classes=None,
        min_size=cfg['min_size'], max_size=cfg['max_size'],
        image_mean=[123.675 / 255, 116.28 / 255, 103.53 / 255],
        image_std=[58.395 / 255, 57.12 / 255, 57.375 / 255],
        rpn_anchor_generator=anchors,
        rpn_pre_nms_top_n_train=600, rpn_pre_nms_top_n_test=300,
        rpn_post_nms_top_n_train=300, rpn_post_nms_top_n_test=100,
        rpn_batch_size_per_image=128,
        box_roi_pool=box_pool,
        box_head=TwoMLPHead(f * 7 * 7, cfg['box_rep']),
        box_predictor=FastRCNNPredictor(cfg['box_rep'], num_classes + 1),
        box_batch_size_per_image=cfg['box_batch'], box_score_thresh=0.05, box_nms_thresh=0.5,
        box_detections_per_img=50,
        mask_roi_pool=mask_pool,
        mask_head=MaskRCNNHeads(f, cfg['mask_layers'], 1),
        mask_predictor=ShuffleMaskPredictor(cfg['mask_layers'][-1], cfg['mask_layers'][-1],
                                            num_classes + 1),
    )
    rpn = model.rpn
    model.rpn = CoarseLevelsRPN(rpn.anchor_generator, rpn.head, rpn.proposal_matcher.high_threshold,
                                rpn.proposal_matcher.low_threshold,
                                rpn.fg_bg_sampler.batch_size_per_image,
                                rpn.fg_bg_sampler.positive_fraction, rpn._pre_nms_top_n,
                                rpn._post_nms_top_n, rpn.nms_thresh, rpn.score_thresh)
    return model


class CoarseLevelsRPN(RegionProposalNetwork):
    """torchvision's RPN fed with the FPN levels from P3 on (see the anchor comment)."""

    def forward(self, images, features, targets=None):
        coarse = OrderedDict((k, v) for k, v in features.items() if k != '0')
        return super().forward(images, coarse, targets)


class ShuffleMaskPredictor(nn.Module):
    """torchvision's MaskRCNNPredictor with its 2x2 stride-2 ConvTranspose2d computed as a 1x1
    conv + pixel shuffle: the same function, but CPU training is ~10x faster than
    slow_conv_transpose2d's backward. to_standard() converts back to the stock predictor for
    export, so the ONNX files have the usual ConvTranspose."""

    def __init__(self, in_channels: int, dim_reduced: int, num_classes: int):
        super().__init__()
        self.dim_reduced = dim_reduced
        self.conv5_mask = nn.Conv2d(in_channels, dim_reduced * 4, 1, bias=False)
        # One bias per output channel, added after the shuffle, keeps the map exact.
        self.conv5_bias = nn.Parameter(torch.zeros(dim_reduced))
        self.mask_fcn_logits = nn.Conv2d(dim_reduced, num_classes, 1)
        ref = MaskRCNNPredictor(in_channels, dim_reduced, num_classes)  # same init as stock
        self.load_standard(ref)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pixel_shuffle(self.conv5_mask(x), 2) + self.conv5_bias.view(1, -1, 1, 1)
        x = F.relu(x)
        return self.mask_fcn_logits(x)

    def load_standard(self, p: MaskRCNNPredictor) -> None:
        w = p.conv5_mask.weight.data  # [Cin, Cout, 2, 2]
        cin, cout = w.shape[:2]
        # pixel_shuffle sends channel co*4 + i*2 + j to output (co, 2y+i, 2x+j).
        self.conv5_mask.weight.data.copy_(w.permute(1, 2, 3, 0).reshape(cout * 4, cin, 1, 1))
        self.conv5_bias.data.copy_(p.conv5_mask.bias.data)
        self.mask_fcn_logits.load_state_dict(p.mask_fcn_logits.state_dict())

    def to_standard(self) -> MaskRCNNPredictor:
        cin = self.conv5_mask.in_channels
        p = MaskRCNNPredictor(cin, self.dim_reduced, self.mask_fcn_logits.out_channels)
        v = self.conv5_mask.weight.data.reshape(self.dim_reduced, 2, 2, cin)
        p.conv5_mask.weight.data.copy_(v.permute(3, 0, 1, 2))
        p.conv5_mask.bias.data.copy_(self.conv5_bias.data)
        p.mask_fcn_logits.load_state_dict(self.mask_fcn_logits.state_dict())
        return p


def for_export(model: MaskRCNN) -> MaskRCNN:
    """A copy whose mask predictor is torchvision's stock ConvTranspose2d version."""
    import copy
    m = copy.deepcopy(model).eval()
    if isinstance(m.roi_heads.mask_predictor, ShuffleMaskPredictor):
        m.roi_heads.mask_predictor = m.roi_heads.mask_predictor.to_standard()
    return m


class End2EndDetector(nn.Module):
    """mmdeploy's end2end contract around a torchvision Mask R-CNN.

    Input: [1,3,H,W] already resized, normalised and zero-padded to a multiple of 32.
    Outputs: dets [1,N,5] (x1,y1,x2,y2,score in the input frame), labels [1,N] int64 0..K-1,
    masks [1,N,28,28] box-local probabilities of the predicted class.
    """

    def __init__(self, model: MaskRCNN):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        from torchvision.models.detection.image_list import ImageList
        image_sizes = [(x.shape[-2], x.shape[-1])]
        images = ImageList(x, image_sizes)
        features = self.model.backbone(x)
        proposals, _ = self.model.rpn(images, features)
        dets, _ = self.model.roi_heads(features, proposals, image_sizes)
        d = dets[0]
        boxes_scores = torch.cat([d['boxes'], d['scores'].unsqueeze(1)], 1)
        return boxes_scores.unsqueeze(0), (d['labels'] - 1).unsqueeze(0), d['masks'][:, 0].unsqueeze(0)


# ---------------------------------------------------------------------------------------------
# Semantic segmentation


class ConvModule(nn.Sequential):
    def __init__(self, cin: int, cout: int, k: int, dilation: int = 1):
        super().__init__(nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation,
                                   bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class FCNHead(nn.Module):
    """mmseg FCNHead (num_convs=2, concat_input=True); with gc_ratio it is mmseg's GCHead: a
    ContextBlock between the two convs, whose output is concatenated with the c5 input before
    the classifier (the paper's section 5.4 head)."""

    def __init__(self, cin: int, channels: int, num_classes: int, gc_ratio: float | None = None,
                 num_convs: int = 2, concat_input: bool = True, dropout: float = 0.1):
        super().__init__()
        self.convs = nn.ModuleList([ConvModule(cin if i == 0 else channels, channels, 3)
                                    for i in range(num_convs)])
        self.gc_block = ContextBlock(channels, gc_ratio) if gc_ratio else None
        self.concat_input = concat_input
        if concat_input:
            self.conv_cat = ConvModule(cin + channels, channels, 3)
        self.dropout = nn.Dropout2d(dropout)
        self.conv_seg = nn.Conv2d(channels, num_classes, 1)
        nn.init.normal_(self.conv_seg.weight, 0, 0.01)
        nn.init.zeros_(self.conv_seg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.convs[0](x)
        if self.gc_block is not None:
            out = self.gc_block(out)
        for c in self.convs[1:]:
            out = c(out)
        if self.concat_input:
            out = self.conv_cat(torch.cat([x, out], 1))
        return self.conv_seg(self.dropout(out))


SEG_CFG = {
    'widths': (64, 128, 256, 256),
    # One bottleneck per stage, dilation 2 in c4 and c5: the FCN output's receptive field stays
    # near +-70 px, which the street scenes are built around (see gen_cityscapes.py).
    'blocks': (1, 1, 1, 1),
    'dilations': (1, 1, 2, 2),
    'stem': 32,
    # Head width 128 gives the GC head's block 32 hidden channels; with 16 (width 64) the
    # block's added context grew too slowly to learn the cue within the CPU schedule.
    'channels': 128,
}


class Segmenter(nn.Module):
    """Dilated ResNet (output stride 8) + FCN or GC head (+ auxiliary FCN head on c4)."""

    def __init__(self, num_classes: int, gc_head: bool, cfg: dict | None = None,
                 with_argmax: bool = True):
        super().__init__()
        cfg = {**SEG_CFG, **(cfg or {})}
        self.backbone = ResNet(cfg['widths'], cfg['blocks'], cfg['stem'], gc_ratio=None,
                               strides=(1, 2, 1, 1), dilations=cfg['dilations'])
        self.decode_head = FCNHead(cfg['widths'][3], cfg['channels'], num_classes,
                                   gc_ratio=0.25 if gc_head else None)
        self.auxiliary_head = FCNHead(cfg['widths'][2], cfg['channels'], num_classes,
                                      num_convs=1, concat_input=False)
        self.with_argmax = with_argmax

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.backbone(x)
        out = self.decode_head(feats[3])
        return F.interpolate(out, size=x.shape[-2:], mode='bilinear', align_corners=False)

    def train_forward(self, x: torch.Tensor):
        feats = self.backbone(x)
        main = F.interpolate(self.decode_head(feats[3]), size=x.shape[-2:], mode='bilinear',
                             align_corners=False)
        aux = F.interpolate(self.auxiliary_head(feats[2]), size=x.shape[-2:], mode='bilinear',
                            align_corners=False)
        return main, aux

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seg = self.logits(x)
        if self.with_argmax:
            return seg.argmax(dim=1, keepdim=True)
        return seg


def count_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


class MacCounter:
    """Multiply-accumulates of conv / linear / matmul ops in one forward (mmcv-style 'FLOPs')."""

    def __init__(self, model: nn.Module):
        self.total = 0
        self.hooks = []
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                self.hooks.append(m.register_forward_hook(self._hook))
            if isinstance(m, ContextBlock):
                self.hooks.append(m.register_forward_hook(self._gc_hook))

    def _hook(self, m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
            self.total += out.numel() * k
        elif isinstance(m, nn.ConvTranspose2d):
            k = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            self.total += inp[0].numel() * k
        else:
            self.total += out.numel() * m.in_features

    def _gc_hook(self, m, inp, out):
        x = inp[0]
        self.total += x.numel()  # the attention-pooling matmul: C x HW per image

    def close(self):
        for h in self.hooks:
            h.remove()


def receptive_field(fn, h: int, w: int, y: int, x: int, seed: int = 0) -> dict:
    """Theoretical receptive field of one output position, measured: the input pixels with a
    non-zero gradient for random weights. Returns the pixel extent and the reach to each side
    of the position's centre in input pixels."""
    g = torch.Generator().manual_seed(seed)
    inp = torch.randn(1, 3, h, w, generator=g, requires_grad=True)
    out = fn(inp)
    stride_y, stride_x = h / out.shape[-2], w / out.shape[-1]
    out[0, :, y, x].sum().backward()
    ys, xs = torch.nonzero(inp.grad[0].abs().sum(0) > 0, as_tuple=True)
    cx, cy = (x + 0.5) * stride_x, (y + 0.5) * stride_y
    return {'x': [int(xs.min()), int(xs.max())], 'y': [int(ys.min()), int(ys.max())],
            'reachLeft': round(cx - int(xs.min()), 1), 'reachRight': round(int(xs.max()) + 1 - cx, 1),
            'outputStride': [stride_y, stride_x], 'position': [y, x], 'inputSize': [h, w]}


def randomised(model: nn.Module, seed: int = 0) -> nn.Module:
    """A copy with random weights everywhere (so no zero-initialised layer hides a path)."""
    import copy
    m = copy.deepcopy(model).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return m

"""Corpus metrics: thin adapters over the official implementations (pycocotools ``COCOeval``,
``lvis.LVISEval``) plus grounding box/mask IoU. Results are frozen data, never prints. Each family's
glue between its readings and these adapters is ``tasks/<family>/metric.py``.

Importing this package stays light: lvis (which pulls in cv2 and matplotlib) is imported on the
first ``lvis_bbox_eval`` call.
"""

from tasks.metrics.coco import ClassAP, DetectionMetrics, coco_bbox_eval, coco_ov_summary
from tasks.metrics.grounding import (
    box_iou,
    box_iou_official,
    box_miou,
    giou_ciou,
    lisa_gt_masks,
    polygons_to_mask,
)
from tasks.metrics.lvis import (
    LVISClassAP,
    LVISDetectionMetrics,
    ensure_numpy_float_alias,
    lvis_bbox_eval,
)

__all__ = [
    "ClassAP",
    "DetectionMetrics",
    "LVISClassAP",
    "LVISDetectionMetrics",
    "box_iou",
    "box_iou_official",
    "box_miou",
    "coco_bbox_eval",
    "coco_ov_summary",
    "ensure_numpy_float_alias",
    "giou_ciou",
    "lisa_gt_masks",
    "lvis_bbox_eval",
    "polygons_to_mask",
]

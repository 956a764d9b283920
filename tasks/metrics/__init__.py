"""Corpus metrics: thin adapters over the official implementations (pycocotools ``COCOeval``,
``lvis.LVISEval``) plus accuracy and grounding IoU. Results are frozen data, never prints.

Importing this package stays light: lvis (which pulls in cv2 and matplotlib) is imported on the
first ``lvis_bbox_eval`` call.
"""

from tasks.metrics.accuracy import ClassificationMetrics, accuracy
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
    "ClassificationMetrics",
    "DetectionMetrics",
    "LVISClassAP",
    "LVISDetectionMetrics",
    "accuracy",
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

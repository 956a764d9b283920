"""SAM through transformers (`SamModel` + `SamProcessor`): box prompts -> one mask each, as the official
``lisa_evaluation/box2mask.py`` makes them with Meta's ``segment_anything`` ViT-H.

What ``box2mask.py`` does, and how this module matches it:

* ``SamPredictor.set_image``: resize so the long side is 1024 (``ResizeLongestSide``: PIL bilinear through
  torchvision), normalise with the ImageNet mean/std in 0–255 units, pad bottom-right to 1024². Here:
  `SamProcessor` with the **PIL** image processor (`SamImageProcessorPil`), the same PIL resize; the
  default torchvision processor resizes tensors with its own antialiasing and differs on downscaled images.
* ``apply_boxes_torch``: box × (new side / old side) per axis, the new sides from the same rounding rule
  (``int(side · 1024 / long side + 0.5)``). Here: `SamProcessor`'s ``input_boxes`` normalisation (float64
  instead of float32 arithmetic: differences below 1e-4 px).
* ``predict_torch(boxes=..., multimask_output=False)``: the prompt encoder shifts corners by +0.5 px, the
  decoder's first mask token is taken; masks are upscaled to 1024², cropped to the resized image, upscaled
  to the original size (bilinear) and thresholded at 0. Here: ``SamModel(..., multimask_output=False)``
  and ``SamProcessor.post_process_masks``, which do the same.

Checked with the ``segment_anything`` source on the same random weights (tiny and image sizes 168x224 to
1200x900; `tests/harness/test_sam_reference.py`): pixel inputs equal to 2.4e-7, boxes to 5e-5 px, mask
logits to 3e-4, at most 3 pixels of a million on the other side of the threshold.

Images are read as the model saw them (`harness.backends.images.load_image`: PIL, RGBA on white); the
official script reads them with OpenCV, which also applies EXIF rotation (its masks then mismatch the
PIL-sized GT and ``mask_iou.py`` skips those items).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

log = logging.getLogger("vrft.masks")

DEFAULT_SAM = "facebook/sam-vit-huge"
"""The transformers port of the paper's ``sam_vit_h_4b8939.pth``."""
HOW_TO_GET = (
    "download it first (`hf download facebook/sam-vit-huge`, the transformers port of the paper's "
    "sam_vit_h_4b8939.pth; any SamModel checkpoint works) or pass --sam DIR with a SamModel directory "
    "(`vrft tiny --sam --out DIR` builds a small random one for tests)"
)


class SamLoadError(ValueError):
    """A SAM checkpoint that is missing or is not one (the message names --sam and what to get)."""


def resolve_sam(name: str) -> Path:
    """The local directory of the SAM checkpoint `name` (a directory, or a hub id found in the local cache or
    downloaded); SamLoadError naming ``--sam`` and what to download otherwise."""
    path = Path(name).expanduser()
    if not path.exists() and not name.startswith((".", "/", "~")) and name.count("/") == 1:
        try:
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(name, allow_patterns=["*.json", "*.safetensors", "*.bin", "*.txt"]))
        except Exception as err:  # offline, unknown id, no permission: every one means "not available here"
            raise SamLoadError(
                f"--sam {name}: the SAM checkpoint is not available here ({type(err).__name__}); {HOW_TO_GET}"
            ) from None
    if not path.is_dir():
        raise SamLoadError(f"--sam {name}: no such SAM checkpoint directory; {HOW_TO_GET}")
    config = path / "config.json"
    try:
        model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (OSError, ValueError, AttributeError) as err:
        raise SamLoadError(f"--sam {name}: {config} is missing or unreadable ({err}); {HOW_TO_GET}") from None
    if model_type != "sam":
        raise SamLoadError(
            f"--sam {name}: {config} says model_type={model_type!r}, not a SAM checkpoint ('sam'); {HOW_TO_GET}"
        )
    return path


def sam_identity(name: str, path: Path) -> dict[str, Any]:
    """What masks.jsonl records about the SAM that made a mask: the name given and the content fingerprint of
    its directory (`harness.provenance.model_fingerprint`)."""
    from harness.provenance import model_fingerprint

    return {"model": name, "fingerprint": model_fingerprint(path)}


PixelBox = Sequence[float]


@dataclass
class SamMasker:
    """A loaded SAM: `masks` turns images + pixel boxes into bool masks of each image's size."""

    model: Any
    processor: Any
    device: str

    @classmethod
    def load(cls, path: Path, device: str | None = None) -> SamMasker:
        """Model + PIL processor from a checkpoint directory (`resolve_sam`), on the GPU when there is one."""
        import torch
        from transformers import SamModel, SamProcessor
        from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            processor = SamProcessor(image_processor=SamImageProcessorPil.from_pretrained(path))
            model = SamModel.from_pretrained(path).float().to(device).eval()
        except Exception as err:  # a corrupt or partial checkpoint, whatever the library raises for it
            raise SamLoadError(f"--sam {path}: cannot load the SAM checkpoint ({err}); {HOW_TO_GET}") from None
        return cls(model, processor, device)

    def masks(self, images: Sequence[Image.Image], boxes: Sequence[Sequence[PixelBox]]) -> list[list[np.ndarray]]:
        """For each image its boxes' masks, (height, width) bool each: the image encoder runs once on the whole
        batch, the prompt decoder once per image with all its boxes (``multimask_output=False``)."""
        import torch

        if len(images) != len(boxes) or any(not b for b in boxes):
            raise ValueError("SamMasker.masks: one non-empty list of boxes per image")
        inputs = [
            self.processor(images=[img], input_boxes=[[[float(v) for v in b] for b in bxs]], return_tensors="pt")
            for img, bxs in zip(images, boxes, strict=True)
        ]
        out: list[list[np.ndarray]] = []
        with torch.inference_mode():
            pixels = torch.cat([x["pixel_values"] for x in inputs]).to(self.device)
            embeddings = self.model.get_image_embeddings(pixels)
            for i, x in enumerate(inputs):
                pred = self.model(
                    image_embeddings=embeddings[i : i + 1],
                    input_boxes=x["input_boxes"].to(self.device),
                    multimask_output=False,
                ).pred_masks
                masks = self.processor.post_process_masks(pred, x["original_sizes"], x["reshaped_input_sizes"])[0]
                out.append([m[0].cpu().numpy().astype(bool) for m in masks])
        return out


# ---- random SAMs built offline: the tiny one for tests and the demo, the real-size one for benchmarks ----


def tiny_sam_config() -> Any:
    """A ~0.2 M-parameter SAM with the real input geometry (1024² inputs, 16-px patches, 64² embeddings,
    256² low-resolution masks): the same processor and box transform as ViT-H, on CPU in a fraction of a
    second per image."""
    from transformers import SamConfig

    width = 32
    return SamConfig(
        vision_config=dict(
            hidden_size=width,
            num_hidden_layers=2,
            num_attention_heads=2,
            global_attn_indexes=[1],
            output_channels=width,
            num_pos_feats=width // 2,
        ),
        prompt_encoder_config=dict(hidden_size=width, mask_input_channels=4),
        mask_decoder_config=dict(
            hidden_size=width, mlp_dim=2 * width, num_attention_heads=2, iou_head_hidden_dim=width
        ),
    )


def vit_h_config() -> Any:
    """The architecture of ``facebook/sam-vit-huge`` (ViT-H/16 image encoder, 641 M parameters in all)."""
    from transformers import SamConfig

    return SamConfig(
        vision_config=dict(
            hidden_size=1280,
            num_hidden_layers=32,
            num_attention_heads=16,
            global_attn_indexes=[7, 15, 23, 31],
        )
    )


def build_random_sam(out: Path, config: Any, seed: int = 0) -> Path:
    """Save a SAM with random weights for `config` and the real processor settings into `out` (it loads with
    `resolve_sam` / `SamMasker.load` like a downloaded checkpoint). Deterministic for a seed."""
    import torch
    from transformers import SamModel, SamProcessor
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = SamModel(config).float().eval()
    model.save_pretrained(out)
    SamProcessor(image_processor=SamImageProcessorPil()).save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    (out / "tiny_build.json").write_text(json.dumps({"seed": seed, "n_params": n_params}, indent=1) + "\n")
    log.info("random SAM (%d params) written to %s", n_params, out)
    return out


def build_tiny_sam(out: Path, seed: int = 0) -> Path:
    """`vrft tiny --sam --out DIR`: the tiny random SAM (`tiny_sam_config`)."""
    return build_random_sam(out, tiny_sam_config(), seed)

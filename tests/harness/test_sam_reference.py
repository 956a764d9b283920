"""transformers' SAM port, as the mask stage calls it (`harness.sam.SamMasker`), against Meta's ``segment_anything``
as the official ``box2mask.py`` calls it (``SamPredictor.set_image`` + ``apply_boxes_torch`` + ``predict_torch``
with ``multimask_output=False``), on the same random weights: the tiny architecture of `vrft tiny --sam` built in
both libraries, the weights copied across with the renaming of transformers' SAM conversion."""

from __future__ import annotations

import re
from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image
from segment_anything import SamPredictor
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

from harness.sam import SamMasker, tiny_sam_config

pytestmark = pytest.mark.slow  # ~20 s: Meta's SAM code is pure PyTorch on 1024-px inputs

# segment_anything key -> transformers key (the inverse of transformers' convert_sam_to_hf.py renaming)
RENAMES = [
    (r"^image_encoder\.", "vision_encoder."),
    (r"patch_embed\.proj\.", "patch_embed.projection."),
    (r"\.blocks\.", ".layers."),
    (r"(vision_encoder\.layers\.\d+)\.norm(\d)", r"\1.layer_norm\2"),
    (r"neck\.0\.", "neck.conv1."),
    (r"neck\.1\.", "neck.layer_norm1."),
    (r"neck\.2\.", "neck.conv2."),
    (r"neck\.3\.", "neck.layer_norm2."),
    (r"pe_layer\.positional_encoding_gaussian_matrix", "shared_embedding.positional_embedding"),
    (r"point_embeddings\.", "point_embed."),
    (r"mask_downscaling\.0\.", "mask_embed.conv1."),
    (r"mask_downscaling\.1\.", "mask_embed.layer_norm1."),
    (r"mask_downscaling\.3\.", "mask_embed.conv2."),
    (r"mask_downscaling\.4\.", "mask_embed.layer_norm2."),
    (r"mask_downscaling\.6\.", "mask_embed.conv3."),
    (r"output_upscaling\.0\.", "upscale_conv1."),
    (r"output_upscaling\.1\.", "upscale_layer_norm."),
    (r"output_upscaling\.3\.", "upscale_conv2."),
    (r"(mlps\.\d+|iou_prediction_head)\.layers\.0\.", r"\1.proj_in."),
    (r"(mlps\.\d+|iou_prediction_head)\.layers\.1\.", r"\1.layers.0."),
    (r"(mlps\.\d+|iou_prediction_head)\.layers\.2\.", r"\1.proj_out."),
    (r"(transformer\.layers\.\d+)\.norm(\d)", r"\1.layer_norm\2"),
    (r"norm_final_attn", "layer_norm_final_attn"),
]


def _reference_sam(config) -> Sam:  # type: ignore[no-untyped-def]
    """segment_anything's Sam with the dimensions of `config` (build_sam.py's _build_sam, made small)."""
    v, p, d = config.vision_config, config.prompt_encoder_config, config.mask_decoder_config
    side = v.image_size // v.patch_size
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=v.num_hidden_layers, embed_dim=v.hidden_size, img_size=v.image_size, mlp_ratio=v.mlp_ratio,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=v.num_attention_heads,
            patch_size=v.patch_size, qkv_bias=True, use_rel_pos=True, global_attn_indexes=list(v.global_attn_indexes),
            window_size=v.window_size, out_chans=v.output_channels,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=p.hidden_size, image_embedding_size=(side, side), input_image_size=(v.image_size, v.image_size),
            mask_in_chans=p.mask_input_channels,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=d.num_multimask_outputs,
            transformer=TwoWayTransformer(depth=d.num_hidden_layers, embedding_dim=d.hidden_size, mlp_dim=d.mlp_dim,
                                          num_heads=d.num_attention_heads),
            transformer_dim=d.hidden_size, iou_head_depth=d.iou_head_depth, iou_head_hidden_dim=d.iou_head_hidden_dim,
        ),
    ).eval()  # fmt: skip


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[SamMasker, SamPredictor]:
    from harness.sam import build_random_sam

    torch.manual_seed(0)
    path = build_random_sam(tmp_path_factory.mktemp("sam"), tiny_sam_config())
    masker = SamMasker.load(path, "cpu")
    with torch.no_grad():  # weights large enough that masks have both sides (random init is near zero)
        for name, param in masker.model.named_parameters():
            scale = 0.3 if param.dim() > 1 else 0.1
            param.copy_(torch.randn_like(param) * scale + (1.0 if "norm" in name and name.endswith("weight") else 0.0))
    ours = masker.model.state_dict()
    reference = _reference_sam(masker.model.config)
    copied = {}
    for key, value in reference.state_dict().items():
        hf_key = key
        for pattern, repl in RENAMES:
            hf_key = re.sub(pattern, repl, hf_key)
        assert ours[hf_key].shape == value.shape, (key, hf_key)
        copied[key] = ours[hf_key].clone()
    reference.load_state_dict(copied)
    return masker, SamPredictor(reference)


@pytest.mark.parametrize(("height", "width"), [(168, 224), (427, 640), (1200, 900)])
def test_stage_masks_equal_segment_anything_box2mask(both, height: int, width: int) -> None:  # type: ignore[no-untyped-def]
    masker, predictor = both
    rng = np.random.default_rng(height)
    small = rng.integers(0, 255, (max(height // 8, 1), max(width // 8, 1), 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR)  # structure at every scale
    rgb = np.array(image)
    boxes = [  # box2mask.py's integer boxes, and the strict profile's float ones
        [int(0.1 * width), int(0.2 * height), int(0.7 * width), int(0.9 * height)],
        [3.5, 7.25, width / 2, height / 3],
    ]
    ours = masker.masks([image], [boxes])[0]
    predictor.set_image(rgb)  # box2mask.py: RGB uint8 array
    inputs = masker.processor(images=[image], input_boxes=[boxes], return_tensors="pt")
    reference_pixels = predictor.model.preprocess(
        torch.as_tensor(predictor.transform.apply_image(rgb)).permute(2, 0, 1)[None].float()
    )
    assert (inputs["pixel_values"] - reference_pixels).abs().max() < 1e-5  # same resize, normalisation, padding
    for box, mask in zip(boxes, ours, strict=True):
        transformed = predictor.transform.apply_boxes_torch(torch.tensor([box]), rgb.shape[:2])
        ref, _, _ = predictor.predict_torch(None, None, boxes=transformed, multimask_output=False)
        ref_mask = ref[0, 0].numpy()
        assert mask.shape == ref_mask.shape == (height, width)
        assert 0.02 < ref_mask.mean() < 0.98  # a mask with both sides: the comparison can fail
        flips = int((mask != ref_mask).sum())
        assert flips <= max(2, height * width // 100_000), (box, flips)  # float rounding at the threshold only
    norm = inputs["input_boxes"][0].numpy()
    for box, row in zip(boxes, norm, strict=True):
        expected = predictor.transform.apply_boxes_torch(torch.tensor([box], dtype=torch.float64), rgb.shape[:2])
        np.testing.assert_allclose(row, expected[0].numpy(), atol=1e-4)  # the long-side-1024 box transform

"""What `bench_paper_suite.py` runs, built without a download: the paper suite's requests and a
Qwen2-VL-2B-shaped model with random weights.

* `suite_parts`: one `SuitePart` per benchmark of ``vrft eval --tasks paper``, with the real test-set
  sizes and the categories of `tasks.registry` (FGVC 2,463 + 3,669 + 3,333 + 8,041 = 17,506 images; COCO
  val2017 5,000 images × the 8 few-shot categories and × the 15 novel open-vocabulary ones; LVIS v1 val
  19,809 images × 6 few-shot and × 13 open-vocabulary rare categories; LISA ReasonSeg 200 val + 779
  test), in the group's task order, image-major like `DetectionTask.pairs`. ``coco_ov="all"`` asks the
  65 base categories too, as `vrft eval`'s coco_ov does for mAPb (5,000 × 80).
* `write_images`: one distinct JPEG per image at a typical size of its dataset (COCO-sized scenes for
  COCO and LVIS, larger ones for Aircraft and ReasonSeg); the pixels are random blocks, distinct per
  image, so neither vLLM's multimodal cache nor prefix caching can share what real images would not.
  The two COCO tasks share their 5,000 images and the two LVIS tasks their 19,809, as the real ones do.
* `build_requests`: `tasks.base.Request`s with the tasks' own prompts (strict rendering, the default
  profile) and a fixed output length per family: random weights never write ``</answer>``, so the
  length is set (`OUTPUT_TOKENS`), not left to chance.
* `qwen2vl_2b_config` / `build_random_2b`: the published Qwen2-VL-2B-Instruct configuration (2,208,985,600
  parameters) with random weights, and a byte-level BPE tokenizer padded to the real 151,936-token
  vocabulary (`harness.tiny`'s tokenizer plus filler tokens), so every sampled id decodes.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.base import Request
from tasks.classification.prompt import classification_prompt
from tasks.detection.categories import COCO_FEWSHOT, LVIS_FEWSHOT, LVIS_OV13, OV_SPLITS
from tasks.detection.prompt import detection_prompt
from tasks.grounding.prompt import grounding_prompt
from tasks.prompts import Prompt
from tasks.spec import ImageRef, Kind

# Output tokens per request, forced (an assumption, not a measurement: a think sentence or two and the
# answer; most direct-protocol detection queries are negatives answered "No Objects").
OUTPUT_TOKENS = {Kind.CLASSIFICATION: 64, Kind.DETECTION: 64, Kind.GROUNDING: 96}

# Typical (width, height) per image source: approximate, cycled through per image. COCO/LVIS val images
# are at most 640 px; FGVC-Aircraft and ReasonSeg images are larger (the official eval policy,
# max_pixels 12,845,056, keeps them at full resolution).
SIZES: dict[str, tuple[tuple[int, int], ...]] = {
    "flowers102": ((500, 667), (667, 500), (500, 500), (754, 500)),
    "pets37": ((500, 375), (375, 500), (500, 333), (400, 300)),
    "aircraft": ((1024, 680), (1024, 768), (800, 533)),
    "cars196": ((640, 480), (800, 600), (1024, 683), (500, 375)),
    "coco": ((640, 480), (480, 640), (640, 427), (640, 360)),
    "lisa": ((1024, 768), (1024, 683), (768, 1024), (1600, 1200)),
}
LVIS_VAL_IMAGES = 19_809  # LVIS v1 val (PROTOCOL §4.2); its images are COCO's
COCO_VAL_IMAGES = 5_000
LISA_IMAGES = {"val": 200, "test": 779}
FGVC_TEST_IMAGES = {"flowers102": 2_463, "pets37": 3_669, "aircraft": 3_333, "cars196": 8_041}


@dataclass(frozen=True)
class SuitePart:
    """One benchmark of the suite: `images` images of `source` (a key of `SIZES`, and the image folder
    shared with other parts), each asked every one of `queries` (detection: category names;
    classification: the dataset; grounding: one instruction)."""

    task: str
    kind: Kind
    source: str
    images: int
    queries: tuple[str, ...]

    @property
    def requests(self) -> int:
        return self.images * len(self.queries)

    @property
    def output_tokens(self) -> int:
        return OUTPUT_TOKENS[self.kind]


def suite_parts(coco_ov: str = "novel") -> list[SuitePart]:
    """The paper suite (module docstring); `coco_ov`: ``novel`` (its 15 novel categories) or ``all`` (80)."""
    split = OV_SPLITS["base65_novel15"]
    if coco_ov not in ("novel", "all"):
        raise ValueError(f"coco_ov={coco_ov!r}: expected 'novel' or 'all'")
    parts = [SuitePart(f"fgvc_{d}", Kind.CLASSIFICATION, d, n, (d,)) for d, n in FGVC_TEST_IMAGES.items()]
    parts += [
        SuitePart("coco_fewshot", Kind.DETECTION, "coco", COCO_VAL_IMAGES, COCO_FEWSHOT),
        SuitePart("lvis_fewshot", Kind.DETECTION, "lvis", LVIS_VAL_IMAGES, LVIS_FEWSHOT),
        SuitePart(
            "coco_ov", Kind.DETECTION, "coco", COCO_VAL_IMAGES, split.novel if coco_ov == "novel" else split.categories
        ),
        SuitePart("lvis_ov", Kind.DETECTION, "lvis", LVIS_VAL_IMAGES, LVIS_OV13),
        SuitePart("lisa_grounding", Kind.GROUNDING, "lisa", sum(LISA_IMAGES.values()), ("instruction",)),
    ]
    return parts


def take(parts: Sequence[SuitePart], limit: int | None) -> dict[str, int]:
    """Requests per task: all of them, or a slice of about `limit` in the suite's proportions (at least
    one per task). A slice takes the first requests of each task, whole images first."""
    total = sum(p.requests for p in parts)
    if limit is None or limit >= total:
        return {p.task: p.requests for p in parts}
    return {p.task: max(1, round(limit * p.requests / total)) for p in parts}


def _size(source: str, index: int) -> tuple[int, int]:
    sizes = SIZES["coco" if source == "lvis" else source]
    return sizes[index % len(sizes)]


def image_path(root: Path, source: str, index: int) -> Path:
    return root / source / f"{index:06d}.jpg"


def _instruction(index: int) -> str:
    # ReasonSeg instructions are a sentence that names the object indirectly.
    things = ("cup", "umbrella", "chair", "bicycle", "lamp", "book", "bottle", "dog")
    uses = ("keep the rain off", "sit on while waiting", "read before sleeping", "pour water into a glass")
    return (
        f"the object in this picture that someone would use to {uses[index % len(uses)]}, "
        f"next to the {things[index % len(things)]}"
    )


def _prompt(part: SuitePart, query: str, index: int) -> Prompt:
    if part.kind is Kind.CLASSIFICATION:
        return classification_prompt(query)
    if part.kind is Kind.DETECTION:
        return detection_prompt(query)
    return grounding_prompt(_instruction(index))


def build_requests(parts: Sequence[SuitePart], counts: dict[str, int], image_root: Path) -> dict[str, list[Request]]:
    """Task -> its first ``counts[task]`` requests, image-major (every query of an image in a row)."""
    out: dict[str, list[Request]] = {}
    for part in parts:
        reqs: list[Request] = []
        for index in range(math.ceil(counts[part.task] / len(part.queries))):
            w, h = _size(part.source, index)
            ref = ImageRef(image_path(image_root, part.source, index), w, h)
            for q, query in enumerate(part.queries):
                prompt = _prompt(part, query, index)
                reqs.append(Request(f"{index}:{q}", ref, prompt.text, prompt.system, part.output_tokens))
        out[part.task] = reqs[: counts[part.task]]
    return out


def _write_one(job: tuple[str, int, int, int, str]) -> None:
    import numpy as np
    from PIL import Image

    source, index, w, h, path = job
    rng = np.random.default_rng([zlib.crc32(source.encode()), index])  # the same pixels in every process
    blocks = rng.integers(0, 256, (h // 32 + 1, w // 32 + 1, 3), dtype=np.uint8)
    Image.fromarray(blocks).resize((w, h), Image.Resampling.BILINEAR).save(path, quality=90)


def write_images(requests: dict[str, list[Request]], workers: int) -> int:
    """Write every image the requests name that is not on disk yet; returns how many were written."""
    jobs: dict[str, tuple[str, int, int, int, str]] = {}
    for reqs in requests.values():
        for r in reqs:
            path = r.image.path
            if str(path) not in jobs and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                jobs[str(path)] = (path.parent.name, int(path.stem), r.image.width, r.image.height, str(path))
    if workers > 1 and len(jobs) > 64:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_write_one, jobs.values(), chunksize=64))
    else:
        for job in jobs.values():
            _write_one(job)
    return len(jobs)


# ---- the model ---------------------------------------------------------------------------------------

VOCAB_SIZE = 151_936
QWEN2_VL_2B_TEXT: dict[str, Any] = {  # Qwen2-VL-2B-Instruct's config.json (language model)
    "vocab_size": VOCAB_SIZE,
    "hidden_size": 1536,
    "intermediate_size": 8960,
    "num_hidden_layers": 28,
    "num_attention_heads": 12,
    "num_key_value_heads": 2,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-6,
    "sliding_window": 32768,
    "max_window_layers": 28,
    "use_sliding_window": False,
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24], "rope_theta": 1_000_000.0},
    "tie_word_embeddings": True,
}
QWEN2_VL_2B_VISION: dict[str, Any] = {  # ... and its vision tower (a 675 M-parameter ViT, 2x2 merger)
    "depth": 32,
    "embed_dim": 1280,
    "hidden_size": 1536,
    "num_heads": 16,
    "mlp_ratio": 4,
    "in_channels": 3,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
}
QWEN2_VL_2B_PARAMS = 2_208_985_600


def padded_tokenizer(work: Path, size: int = VOCAB_SIZE) -> Any:
    """`harness.tiny`'s byte-level BPE tokenizer with filler tokens (``zz<id>``, unreachable by its merges)
    on every free id below `size`: the real vocabulary's size, so any sampled id decodes (to ASCII). Saved
    under `work` and read back, so that every setting of the tiny tokenizer is kept."""
    from transformers import AutoTokenizer

    from harness.tiny import build_tokenizer

    build_tokenizer().save_pretrained(work)  # type: ignore[attr-defined]
    path = work / "tokenizer.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    vocab: dict[str, int] = state["model"]["vocab"]
    used = set(vocab.values()) | {t["id"] for t in state["added_tokens"]}
    vocab.update((f"zz{i}", i) for i in range(size) if i not in used)
    path.write_text(json.dumps(state), encoding="utf-8")
    return AutoTokenizer.from_pretrained(work)


QWEN2_VL_SPECIAL_IDS = {  # the real tokenizer's ids, the config's defaults without a tokenizer
    "<|endoftext|>": 151643,
    "<|im_end|>": 151645,
    "<|vision_start|>": 151652,
    "<|vision_end|>": 151653,
    "<|image_pad|>": 151655,
    "<|video_pad|>": 151656,
}


def qwen2vl_2b_config(tokenizer: Any = None) -> Any:
    """The 2B configuration; special-token ids from `tokenizer` (as `harness.tiny` does), else the real ones."""
    from transformers import Qwen2VLConfig

    ids = dict(QWEN2_VL_SPECIAL_IDS)
    if tokenizer is not None:
        ids = {t: tokenizer.convert_tokens_to_ids(t) for t in ids}
    text = {
        **QWEN2_VL_2B_TEXT,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }
    return Qwen2VLConfig(
        text_config=text,
        vision_config=dict(QWEN2_VL_2B_VISION),
        tie_word_embeddings=True,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
    )


def build_random_2b(out: Path, min_pixels: int, max_pixels: int, seed: int = 0) -> Path:
    """Save the random 2B model (bfloat16, built on the GPU when there is one) with its processor."""
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    tokenizer = padded_tokenizer(out)
    config = qwen2vl_2b_config(tokenizer)
    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = Qwen2VLForConditionalGeneration(config).to(torch.bfloat16).eval()
    eos = config.text_config.eos_token_id
    model.generation_config = GenerationConfig(
        do_sample=False, eos_token_id=[eos], pad_token_id=config.text_config.pad_token_id
    )
    model.save_pretrained(out)
    Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=min_pixels, max_pixels=max_pixels),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=tokenizer.chat_template,
    ).save_pretrained(out)
    del model
    if device == "cuda":
        torch.cuda.empty_cache()
    return out

"""A tiny Qwen2-VL built fully offline, for tests, benchmarks of the plumbing and the demo.

There is no model hub on CI machines, so every test that needs "a Qwen2-VL" builds one here: a
byte-level BPE tokenizer trained on the Visual-RFT prompt vocabulary (plus one token per integer
0..1000, the answers' coordinate range), the real Qwen2-VL chat template (default system turn, image
placeholder, generation prompt), the real processor classes, and a random ~0.9 M-parameter model with
the real architecture. It loads with transformers *and* vLLM (CPU build), so tests exercise the
same code paths as a 2B checkpoint does, only with meaningless outputs.

Measured constraints (ENVIRONMENT.md): vLLM CPU rejects attention head_dim 16, hence hidden 128 with
2 heads (head_dim 64, mrope sections 8+12+12 = 32 = head_dim/2); transformers 5.19's processor needs
a video processor even for images.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<|box_start|>",
    "<|box_end|>",
)
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
TINY_MIN_PIXELS = 4 * 28 * 28
TINY_MAX_PIXELS = 64 * 28 * 28
VOCAB_SIZE = 1024  # BPE merges; the number tokens come on top (see build_tokenizer)
DEFAULT_INIT_RANGE = 0.2  # see build_tiny_qwen2vl
DEFAULT_ROPE_THETA = 1_000_000.0  # Qwen2-VL's
NUMBER_TOKENS = 1001  # '0' ... '1000', the coordinate range of the paper's answers

# The official Qwen2-VL-Instruct template (add_vision_id support dropped): a system turn is inserted
# when the first message is not one, an image item renders as vision_start/image_pad/vision_end and
# the following text item follows it directly (PROTOCOL.md §1.3).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\n" + DEFAULT_SYSTEM_PROMPT + "<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_DETECTION = (
    "Detect all objects belonging to the category '{c}' in the image, and provide the bounding boxes "
    "(between 0 and 1000, integer) and confidence (between 0 and 1, with two decimal places).\n"
    "If no object belonging to the category '{c}' in the image, return 'No Objects'.\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "The output answer format should be as follows:\n"
    "<think> ... </think> <answer>[{{'Position': [x1, y1, x2, y2], 'Confidence': number}}, ...]</answer>\n"
    "Please strictly follow the format."
)
_CLASSIFICATION = (
    "This is an image containing an aircraft. Please identify the model of the aircraft based on the image.\n"
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "The output answer format should be as follows:\n<think> ... </think> <answer>species name</answer>\n"
    "Please strictly follow the format."
)
_LISA = (
    "Output the bounding box in the image corresponding to the instruction: {c}. Output the thinking "
    'process in <think> </think> and your grouding box. Following "<think> thinking process </think>\n'
    '<answer>(x1,y1),(x2,y2)</answer>)" format.'
)
_R1_SYSTEM = (
    "A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
    "The assistant first thinks about the reasoning process in the mind and then provides the user with "
    "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
    "</answer> tags, respectively, i.e., <think> reasoning process here </think><answer> answer here "
    "</answer>"
)
_CLASSES: tuple[str, ...] = tuple(
    " ".join(
        (
            "bus train fire_hydrant stop_sign cat dog bed toilet mouse fork hot_dog airplane suitcase",
            "parking_meter sandwich hair_drier toaster snowboard frisbee bear person car bicycle bird boat",
            "horse_buggy die kitchen_table omelet papaya stepladder casserole egg_roll futon garbage handsaw",
            "hippopotamus mallet shot_glass sugar_bowl 737-400 F/A-18 american_bulldog",
        )
    ).split()
)


def _corpus(extra_texts: Sequence[str]) -> Iterator[str]:
    """A few hundred strings covering the prompts, answers and class names of the paper's tasks."""
    yield DEFAULT_SYSTEM_PROMPT
    yield _R1_SYSTEM
    yield _CLASSIFICATION
    for i, cls in enumerate(_CLASSES):
        name = cls.replace("_", " ")
        for c in (cls, name):
            yield "<image>\n" + _DETECTION.format(c=c)
            yield _LISA.format(c=f"the {c} on the left")
        x1, y1 = (37 * i) % 500, (53 * i) % 500
        box = f"[{x1}, {y1}, {x1 + 123 + i}, {y1 + 321 - i}]"
        det = f"[{{'Position': {box}, 'Confidence': 0.{i:02d}}}]"
        yield f"<think> I see a {name}. </think> <answer>{det}</answer>"
        yield f"<think> There is no {name}. </think> <answer>No Objects</answer>"
        yield f"<think> The {name} is here. </think>\n<answer>({x1},{y1}),({x1 + 99},{y1 + 77})</answer>"
        yield f"<answer>{cls}</answer> <answer>{name}</answer>"
    yield " ".join(str(n) for n in range(0, 1001))
    yield "(x1,y1),(x2,y2) [x1, y1, x2, y2] 0.00 0.25 0.50 0.75 0.99 1.00 {} [] () , . : ; ' \" \n"
    yield from extra_texts


def build_tokenizer(extra_texts: Sequence[str] = ()) -> object:
    """Train the byte-level BPE tokenizer and wrap it as a transformers fast tokenizer.

    Byte-level BPE means any string round-trips (no unknown tokens), so random generations always
    decode; training on the prompt strings keeps prompts short (a few hundred tokens), which keeps
    the vLLM engine's profiling and the tests fast.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(_corpus(extra_texts)), trainer=trainer)
    # Every integer 0..1000 is one token (matched before the pre-tokenizer, longest first): a 2-layer model
    # cannot count digits reliably, so with digit-by-digit coordinates its greedy answers lose their
    # structure ("(125,5110),(55)"); with whole-number tokens a box is nine tokens of fixed shape.
    tok.add_tokens([str(n) for n in range(NUMBER_TOKENS)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",  # noqa: S106 (a token, not a password)
        pad_token="<|endoftext|>",  # noqa: S106
        additional_special_tokens=list(SPECIAL_TOKENS[1:2] + SPECIAL_TOKENS[3:]),
        padding_side="left",  # decoder-only batching; right padding misaligns image tokens (ENVIRONMENT.md)
        model_max_length=4096,
        chat_template=CHAT_TEMPLATE,
    )


def build_tiny_qwen2vl(
    out: Path,
    seed: int = 0,
    extra_texts: Sequence[str] = (),
    initializer_range: float = DEFAULT_INIT_RANGE,
    rope_theta: float = DEFAULT_ROPE_THETA,
) -> Path:
    """Build and save a tiny random Qwen2-VL (model + processor + generation config) into `out`.

    `initializer_range`: std of the random weights. The default 0.2 (ten times the usual 0.02) gives greedy
    logits clear margins, so float32 rounding differences between engines do not flip argmax ties in the parity
    tests; but such weights saturate the attention softmax, and training then barely moves where attention
    looks: a model built with 0.2 did not even memorise 16 box answers in 300 steps, one built with 0.02 did
    (measured for the demo, which trains its model and builds it with 0.02).

    Deterministic for a given (seed, extra_texts): the same files are written on every call, so a
    fingerprint of the directory identifies the model. Returns `out`.
    """
    import torch
    from transformers import (
        GenerationConfig,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
    )

    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(extra_texts)
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}  # type: ignore[attr-defined]
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=TINY_MIN_PIXELS, max_pixels=TINY_MAX_PIXELS),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=CHAT_TEMPLATE,
    )
    eos_ids = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    config = Qwen2VLConfig(
        text_config=dict(
            vocab_size=len(tokenizer),  # type: ignore[arg-type]
            hidden_size=128,
            intermediate_size=256,
            num_hidden_layers=2,
            num_attention_heads=2,  # head_dim 64: vLLM CPU rejects 16
            num_key_value_heads=1,
            max_position_embeddings=4096,
            rope_scaling={"type": "mrope", "mrope_section": [8, 12, 12], "rope_theta": rope_theta},
            initializer_range=initializer_range,  # see the docstring
            bos_token_id=ids["<|endoftext|>"],
            eos_token_id=ids["<|im_end|>"],
            pad_token_id=ids["<|endoftext|>"],
            tie_word_embeddings=False,
        ),
        vision_config=dict(
            depth=2,
            embed_dim=32,
            hidden_size=128,
            num_heads=2,
            mlp_ratio=2,
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
        ),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2VLForConditionalGeneration(config).float().eval()
    model.generation_config = GenerationConfig(
        do_sample=False,  # greedy: the harness passes sampling settings explicitly when it wants them
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=eos_ids,
        pad_token_id=ids["<|endoftext|>"],
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
    n_params = sum(p.numel() for p in model.parameters())
    (out / "tiny_build.json").write_text(
        json.dumps({"seed": seed, "n_params": n_params, "vocab_size": len(tokenizer)}, indent=1) + "\n"  # type: ignore[arg-type]
    )
    log.info("tiny Qwen2-VL (%d params) built in %.1fs at %s", n_params, time.perf_counter() - t0, out)
    return out

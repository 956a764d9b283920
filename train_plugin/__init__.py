"""Training plugin: GRPO (Visual-RFT) and the SFT baseline on TRL, rewarded by the tasks' own verifiers.

The third use of vrft: ``vrft train --recipe NAME`` fine-tunes a checkpoint with task-matched rewards, then
``vrft eval`` scores it, with no reward logic outside `tasks/`. Layout:

* `recipes` - one module per paper experiment family; `Recipe` holds the paper's hyperparameters;
* `config` - `RunConfig` and the exact GRPOConfig/SFTConfig arguments (all paper values explicit);
* `data`, `kshot` - the published HF training sets, and k-shot sets rendered by the tasks themselves;
* `rewards` - the adapter from `tasks.verifiers` to TRL's reward-function signature (the only reward code);
* `grpo`, `sft` - trainer construction and runs; `checkpoint` - eval-ready checkpoints and the manifest;
* `cli` - ``vrft train`` (`add_parser`) and ``python -m train_plugin.cli`` for multi-process launches;
* `demo/` - ``vrft demo``, the paper's loop in miniature (it uses evaluation and training together, so it
  lives on this floor);
* ``accelerate/`` - DDP, DeepSpeed ZeRO-2 and ZeRO-3 launch configs.

Imports `tasks` and `harness` (images, provenance, records, the eval runner); neither imports this package.
``vrft train`` and ``vrft demo`` reach the `vrft` command through the ``vrft.commands`` entry-point group
(pyproject.toml), which `harness.cli` loads without importing this package by name.
"""

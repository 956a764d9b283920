"""HOW models are run and scored. Imports `tasks`, never `train_plugin` (tests/test_layers.py checks it).

* `config` - `EvalConfig` and `Shard`: what a `vrft eval` run is, frozen and validated;
* `backends/` - one small protocol; vllm, hf, openai-compatible server, replay (saved outputs);
* `runner` - tasks + backend -> generations (cached by request hash, resumable) in a run directory;
* `records` - atomic writes and the generations format (its one writer and its readers);
* `manifest` - the run manifest (configuration, task versions, model fingerprint, environment);
* `provenance` - git commit, package versions, model fingerprint, train step (eval and training);
* `score_cmd` - generations -> scores.jsonl + metrics.json, with no model (`ScoreReport`);
* `eval_cmd` - `vrft eval` as library calls: config defaults, generate, then score;
* `coords` - pixel answers converted to the paper's 0-1000 space at the edge;
* `tables/` - paper tables and figures from results/paper and run directories;
* `viz`, `tiny`, `reward_cmd`, `lmms_model` - HTML run report, offline tiny Qwen2-VL, `vrft reward`,
  the lmms-eval model plugin;
* `cli`, `cli_eval` - the `vrft` command: argument parsing and printing only (`vrft train` / `vrft demo`
  join through the ``vrft.commands`` entry-point group).
"""

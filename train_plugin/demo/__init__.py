"""`vrft demo`: the paper's experiment in miniature (synthetic data, tiny model, SFT warm start, GRPO, table).

The top floor of the house: it uses evaluation (`harness`) and training (`train_plugin`) together, so it
lives here and never in `harness/`. `plan` holds the demo's hyperparameters, `run` the stages and the
``vrft demo`` sub-command (registered through the ``vrft.commands`` entry point), `report` what it writes.
"""

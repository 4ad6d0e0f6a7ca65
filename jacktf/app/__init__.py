"""The app layer: the wiring of a run, the only layer that knows every other one.

``experiment`` builds a run (input, Model, Trainer, callbacks) from gin or Python
keywords; ``configurables`` makes every registered factory a gin configurable (gin is
imported here and in ``jacktf.run`` only); ``runtime`` holds the mode dispatch (train,
eval, continuous_eval, export) and the error handling every command shares;
``train_command`` is the one definition of the train command's options, which both
``jacktf train`` (argparse) and ``python -m jacktf.run`` (absl) read; ``learner`` (with
``learner_use`` and ``learner_io``) is the Python API, ``jacktf.Learner``.
"""

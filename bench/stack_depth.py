"""Prints JSON: how deep `jacktf train` is, and what the gin edge imports.

`python bench/stack_depth.py depth`: the jacktf frames on the stack from `jacktf train`
(cli.main) to the call of the first optimizer step (the demo recipe, one step).
`python bench/stack_depth.py imports jacktf.app.configurables`: the jacktf modules that
importing that module loads, of all jacktf modules.
Run from the repository root with PYTHONPATH=$PWD TF_USE_LEGACY_KERAS=1.
"""
import inspect
import json
import os
import subprocess
import sys
import tempfile

def depth():
    import jacktf.train.step as step_mod
    orig = step_mod.make_train_step
    seen = {}
    def make(*a, **k):
        fn = orig(*a, **k)
        def wrapped(*args, **kw):
            if 'frames' not in seen:
                st = [f for f in inspect.stack()]
                names = [f"{os.path.relpath(f.filename, os.getcwd())}:{f.function}" for f in st
                         if '/jacktf/' in f.filename]
                start = max(i for i, n in enumerate(names) if n.endswith('cli.py:main'))
                seen['frames'] = list(reversed(names[:start + 1]))
            return fn(*args, **kw)
        return wrapped
    step_mod.make_train_step = make
    from jacktf import cli
    d = tempfile.mkdtemp()
    try:
        cli.main(['train', '--gin_file', 'gin/demo.gin', '--model_dir', d, '--mode', 'train',
                  '--gin_param', 'TRAIN_STEPS = 1', '--gin_param', 'Experiment.export_at_end = False'])
    except SystemExit:
        pass
    return seen['frames']

if sys.argv[1] == 'depth':
    frames = depth()
    print(json.dumps({'jacktf_frames': len(frames), 'frames': frames}, indent=1))
else:
    __import__(sys.argv[2])
    mods = sorted(m for m in sys.modules if m.startswith('jacktf'))
    total = subprocess.run([sys.executable, '-c', 'import pkgutil, jacktf; print(sum(1 for _ in pkgutil.walk_packages(jacktf.__path__, "jacktf.")))'], capture_output=True, text=True).stdout.strip()
    print(json.dumps({'edge': sys.argv[2], 'jacktf_modules_loaded': len(mods), 'jacktf_modules_total': total}))

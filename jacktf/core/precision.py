"""The precision a run computes in: ``PRECISION = 'auto'`` picks it for the device.

'auto' is bfloat16 where the device computes bfloat16 natively -- a CPU whose
/proc/cpuinfo lists ``avx512_bf16`` or ``amx_bf16`` (oneDNN then runs bfloat16
matmuls and convolutions in hardware), or a GPU of compute capability 8.0 or more --
and float32 everywhere else: without those, TensorFlow emulates bfloat16 by converting
to and from float32 around every op, which made ResNet-50 training 4.4x slower than
float32 on the machines issue 28 measured. On a CPU a 2-step probe must also show
bfloat16 faster (:func:`probe_cost`): the machine this was written on lists
avx512_bf16 and still runs TensorFlow's bfloat16 training graph several times slower
than float32. One start-line phrase says which precision was picked and why
(:func:`resolve`); PRECISION = 'bfloat16' set by hand where it is slower gets one
warning with the measured cost (:func:`emulation_warning`).
"""

import json
import os
import platform
import time

import tensorflow as tf

from jacktf.core.files import write_atomic

PRECISIONS = ('auto', 'float32', 'bfloat16', 'float16')
NATIVE_BF16_CPU_FLAGS = ('avx512_bf16', 'amx_bf16')
NATIVE_BF16_GPU_CAPABILITY = (8, 0)
FASTER = 0.9  # 'auto' takes bfloat16 when its probe step takes < 0.9x float32's time


def cpu_flags(cpuinfo=None):
    """The CPU's feature flags, from /proc/cpuinfo's text (``cpuinfo`` or the file; an
    empty set where there is none)."""
    if cpuinfo is None:
        try:
            with open('/proc/cpuinfo') as f:
                cpuinfo = f.read()
        except OSError:
            return set()
    flags = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(':')
        if key.strip() in ('flags', 'Features'):
            flags.update(value.split())
    return flags


def gpu_capabilities():
    """[(device name, (major, minor))] of the visible GPUs."""
    out = []
    for gpu in tf.config.list_physical_devices('GPU'):
        details = tf.config.experimental.get_device_details(gpu)
        out.append((details.get('device_name', gpu.name),
                    tuple(details.get('compute_capability') or (0, 0))))
    return out


def native_bfloat16(cpuinfo=None, gpus=None):
    """(True when the device computes bfloat16 natively, the reason in words)."""
    gpus = gpu_capabilities() if gpus is None else gpus
    if gpus:
        name, capability = gpus[0]
        if tuple(capability) >= NATIVE_BF16_GPU_CAPABILITY:
            return True, f'the GPU ({name}, compute capability ' \
                         f'{capability[0]}.{capability[1]}) computes bfloat16 natively'
        return False, f'the GPU ({name}, compute capability {capability[0]}.' \
                      f'{capability[1]}) has no native bfloat16 (it needs 8.0 or more)'
    flags = sorted(cpu_flags(cpuinfo) & set(NATIVE_BF16_CPU_FLAGS))
    if flags:
        return True, f'the CPU computes bfloat16 natively ({" and ".join(flags)} in ' \
                     '/proc/cpuinfo)'
    return False, 'the CPU has no native bfloat16 (neither avx512_bf16 nor amx_bf16 ' \
                  'in /proc/cpuinfo) and there is no GPU'


def resolve(precision, cpuinfo=None, gpus=None, probe=None):
    """(the precision to compute in, the start line's words for it).

    ``precision``: one of PRECISIONS; 'auto' becomes bfloat16 or float32, the others
    stay as set. On a CPU the flags are necessary, not sufficient: with them, a 2-step
    probe (``probe() -> bfloat16 time / float32 time``, default :func:`probe_cost`)
    must show bfloat16 faster, since a CPU that lists avx512_bf16 may still run
    TensorFlow's bfloat16 training graph slower than float32 (measured: see
    docs/guides/speed.md).
    """
    if precision != 'auto':
        return precision, f"{precision} (PRECISION = '{precision}')"
    native, why = native_bfloat16(cpuinfo, gpus)
    if native and not (gpu_capabilities() if gpus is None else gpus):
        ratio = (probe or probe_cost)()
        if ratio >= FASTER:
            return 'float32', (f"float32 (PRECISION = 'auto': {why}, but a bfloat16 "
                               f'training step measured {ratio:.1f}x the float32 time '
                               'here, 2-step probe)')
        why += f', a bfloat16 training step measured {ratio:.2f}x the float32 time'
    chosen = 'bfloat16' if native else 'float32'
    return chosen, f"{chosen} (PRECISION = 'auto': {why})"


_probed = {}


def _machine_key(key):
    """The probe's settings, the CPU model and the TensorFlow version: a measurement is
    reused only on the same machine kind and TensorFlow."""
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            model = next((line.split(':', 1)[1].strip() for line in f
                          if line.startswith('model name')), '')
    except OSError:
        pass
    return f'{model or platform.processor()}|tf {tf.__version__}|{key}'


def _probe_file():
    root = os.environ.get('JACKTF_CACHE_DIR') or os.path.join(
        os.path.expanduser('~'), '.cache', 'jacktf')
    return os.path.join(root, 'precision_probe.json')


def _stored(machine):
    try:
        with open(_probe_file()) as f:
            value = json.load(f).get(machine)
        return float(value) if isinstance(value, (int, float)) else None
    except (OSError, ValueError, AttributeError):
        return None


def _store(machine, ratio):
    try:
        try:
            with open(_probe_file()) as f:
                known = json.load(f)
        except (OSError, ValueError):
            known = {}
        known = known if isinstance(known, dict) else {}
        known[machine] = round(ratio, 3)
        os.makedirs(os.path.dirname(_probe_file()), exist_ok=True)
        write_atomic(_probe_file(), json.dumps(known, indent=1))
    except OSError:  # a read-only home: measured again next time
        pass


def probe_cost(steps=2, size=28, channels=32, batch=4):
    """The time of a bfloat16 training step over a float32 one, as TensorFlow runs
    them here (its oneDNN bfloat16 rewrite, as PRECISION = 'bfloat16' trains): a
    MobileNet block (depthwise 3x3, fused batch norm, ReLU6, pointwise 1x1), ``steps``
    timed calls each after one warm call. Measured once per machine kind and TensorFlow
    version and kept in ``$JACKTF_CACHE_DIR/precision_probe.json`` (default
    ~/.cache/jacktf), so every run of a machine decides the same way and pays for the
    probe once; delete the file to measure again."""
    key = (steps, size, channels, batch)
    if key not in _probed:
        machine = _machine_key(key)
        ratio = _stored(machine)
        if ratio is None:
            f32 = _probe_step('float32', steps, size, channels, batch)
            bf16 = _probe_step('bfloat16', steps, size, channels, batch)
            ratio = bf16 / max(f32, 1e-9)
            _store(machine, ratio)
        _probed[key] = ratio
    return _probed[key]


def _probe_step(precision, steps, size, channels, batch):
    x = tf.random.stateless_uniform([batch, size, size, channels], [1, 2])
    dw = tf.Variable(tf.random.stateless_normal([3, 3, channels, 1], [3, 4], stddev=0.1))
    pw = tf.Variable(tf.random.stateless_normal([1, 1, channels, channels], [5, 6],
                                                stddev=0.1))
    scale, offset = tf.Variable(tf.ones([channels])), tf.Variable(tf.zeros([channels]))
    variables = [dw, pw, scale, offset]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            y = tf.nn.depthwise_conv2d(x, dw, [1, 1, 1, 1], 'SAME')
            y = tf.nn.relu6(tf.compat.v1.nn.fused_batch_norm(y, scale, offset)[0])
            y = tf.nn.conv2d(y, pw, 1, 'SAME')
            y = tf.nn.relu6(tf.compat.v1.nn.fused_batch_norm(y, scale, offset)[0])
            loss = tf.reduce_mean(tf.square(y))
        return tape.gradient(loss, variables)

    before = tf.config.optimizer.get_experimental_options()
    tf.config.optimizer.set_experimental_options(
        {'auto_mixed_precision_onednn_bfloat16': precision == 'bfloat16'})
    try:
        step()  # traced and rewritten now, under ``precision``
    finally:
        tf.config.optimizer.set_experimental_options({
            'auto_mixed_precision_onednn_bfloat16':
                before.get('auto_mixed_precision_onednn_bfloat16', False)})
    start = time.perf_counter()
    for _ in range(steps):
        [g.numpy() for g in step()]
    return time.perf_counter() - start


def emulation_warning(precision, cpuinfo=None, gpus=None, probe=None):
    """The one warning for PRECISION = 'bfloat16' set by hand on a CPU where it is
    slower than float32 (emulated, or measured slower), with the measured cost; else
    None."""
    if precision != 'bfloat16' or (gpu_capabilities() if gpus is None else gpus):
        return None
    native, why = native_bfloat16(cpuinfo, gpus)
    ratio = (probe or probe_cost)()
    if native and ratio < FASTER:
        return None
    how = 'TensorFlow emulates it' if not native else 'TensorFlow\'s bfloat16 graph ' \
        'is still slower'
    return (f"PRECISION = 'bfloat16', but {why}: {how}, and a bfloat16 training step "
            f'measured {ratio:.1f}x the time of float32 here (2-step probe). Use '
            "PRECISION = 'auto' (float32 on this machine).")

"""PRECISION = 'auto': bfloat16 only where the device computes it natively (and, on a
CPU, a probe shows it faster); bfloat16 set by hand where it is slower warns once with
the measured cost."""

import json
import logging

import pytest

from jacktf.core import precision
from jacktf.core.errors import ConfigError
from jacktf.train import strategy

FLAGS = ('fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 '
         'clflush mmx fxsr sse sse2 ht syscall nx pdpe1gb rdtscp lm constant_tsc '
         'rep_good nopl xtopology nonstop_tsc cpuid pni pclmulqdq ssse3 fma cx16 pcid '
         'sse4_1 sse4_2 x2apic movbe popcnt aes xsave avx f16c rdrand hypervisor '
         'lahf_lm abm 3dnowprefetch fsgsbase bmi1 avx2 smep bmi2 erms invpcid avx512f '
         'avx512dq rdseed adx smap clflushopt clwb avx512cd avx512bw avx512vl xsaveopt '
         'xsavec xgetbv1 xsaves avx512_vnni')
CPUINFO_PLAIN = ('processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) '
                 f'Xeon(R) CPU @ 2.20GHz\nflags\t\t: {FLAGS}\n\nprocessor\t: 1\n'
                 f'flags\t\t: {FLAGS}\n')
CPUINFO_BF16 = CPUINFO_PLAIN.replace('avx512_vnni', 'avx512_vnni avx512_bf16 amx_bf16')


def test_auto_is_float32_without_bfloat16_flags():
    chosen, note = precision.resolve('auto', cpuinfo=CPUINFO_PLAIN, gpus=[],
                                     probe=lambda: pytest.fail('no probe without flags'))
    assert chosen == 'float32'
    assert "PRECISION = 'auto'" in note and 'neither avx512_bf16 nor amx_bf16' in note


def test_auto_is_bfloat16_with_the_flags_when_the_probe_shows_it_faster():
    chosen, note = precision.resolve('auto', cpuinfo=CPUINFO_BF16, gpus=[],
                                     probe=lambda: 0.55)
    assert chosen == 'bfloat16'
    assert 'amx_bf16 and avx512_bf16' in note and '0.55x' in note


def test_auto_stays_float32_when_the_flagged_cpu_runs_bfloat16_slower():
    chosen, note = precision.resolve('auto', cpuinfo=CPUINFO_BF16, gpus=[],
                                     probe=lambda: 9.7)
    assert chosen == 'float32' and '9.7x the float32 time' in note


def test_auto_on_gpus_follows_the_compute_capability():
    assert precision.resolve('auto', gpus=[('A100', (8, 0))])[0] == 'bfloat16'
    chosen, note = precision.resolve('auto', gpus=[('T4', (7, 5))])
    assert chosen == 'float32' and 'compute capability 7.5' in note


def test_set_precisions_stay_as_set():
    assert precision.resolve('bfloat16', cpuinfo=CPUINFO_PLAIN, gpus=[])[0] == 'bfloat16'
    assert precision.resolve('float32')[0] == 'float32'
    with pytest.raises(ConfigError, match="PRECISION must be one of.*'auto'"):
        strategy.configure_precision('fp8')


def test_emulated_bfloat16_set_by_hand_warns_once_with_the_measured_cost(caplog):
    with caplog.at_level(logging.WARNING, logger='jacktf'):
        chosen, note = strategy.configure_precision(
            'bfloat16', cpuinfo=CPUINFO_PLAIN, gpus=[], probe=lambda: 4.4)
    strategy.configure_precision('float32')
    assert chosen == 'bfloat16'
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert 'emulates' in warnings[0] and '4.4x the time of float32' in warnings[0]
    assert precision.emulation_warning('bfloat16', cpuinfo=CPUINFO_BF16, gpus=[],
                                       probe=lambda: 0.5) is None
    assert precision.emulation_warning('float32', cpuinfo=CPUINFO_PLAIN, gpus=[]) is None


def test_the_probe_measures_both_precisions_here(tmp_path, monkeypatch):
    monkeypatch.setenv('JACKTF_CACHE_DIR', str(tmp_path))
    monkeypatch.setattr(precision, '_probed', {})
    ratio = precision.probe_cost()
    assert ratio > 0 and precision.probe_cost() == ratio  # measured once per process
    # Kept per machine kind: another process (an empty memo) reads it back, unmeasured.
    stored = json.loads((tmp_path / 'precision_probe.json').read_text())
    assert list(stored.values()) == [round(ratio, 3)]
    monkeypatch.setattr(precision, '_probed', {})
    monkeypatch.setattr(precision, '_probe_step', lambda *a: pytest.fail('measured again'))
    assert precision.probe_cost() == round(ratio, 3)
    assert precision.cpu_flags(CPUINFO_BF16) >= {'avx512_bf16', 'amx_bf16'}

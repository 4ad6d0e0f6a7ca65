"""Restoring a Model from a checkpoint by variable name, with slim's exclude rules.

Reads official slim checkpoints (TF1, name-based, written by tf.compat.v1.train.Saver)
and jacktf's own object-based checkpoints (their object graph records each variable's
name). ``plan_restore`` is pure: it decides variable by variable and returns the report;
``restore_from_checkpoint`` applies the plan or raises with the fix.
"""

import dataclasses
import json
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import tensorflow as tf

from jacktf.core import scopes
from jacktf.core.errors import RestoreError
from jacktf.pretrained.resolve import resolve_checkpoint

log = logging.getLogger('jacktf')
_OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'


@dataclasses.dataclass
class RestoreReport:
    """Where each model variable's value comes from."""
    checkpoint: str
    restored: List[str] = dataclasses.field(default_factory=list)
    excluded: List[str] = dataclasses.field(default_factory=list)
    auto_excluded: List[str] = dataclasses.field(default_factory=list)
    missing: List[str] = dataclasses.field(default_factory=list)
    shape_mismatched: List[Tuple[str, list, list]] = dataclasses.field(default_factory=list)
    frozen: List[str] = dataclasses.field(default_factory=list)
    unmatched_exclude_rules: List[str] = dataclasses.field(default_factory=list)
    unused_in_checkpoint: int = 0

    @property
    def ok(self):
        return not (self.missing or self.shape_mismatched or self.unmatched_exclude_rules)

    def summary_line(self):
        return (f'restore {self.checkpoint}: {len(self.restored)} restored, '
                f'{len(self.excluded)} excluded, {len(self.auto_excluded)} auto-excluded, '
                f'{len(self.missing)} missing, {len(self.shape_mismatched)} shape-mismatched, '
                f'{len(self.frozen)} frozen, {self.unused_in_checkpoint} checkpoint '
                'variables unused')

    def to_dict(self):
        d = dataclasses.asdict(self)
        d['shape_mismatched'] = [{'name': n, 'model_shape': m, 'checkpoint_shape': c}
                                 for n, m, c in self.shape_mismatched]
        d['ok'] = self.ok
        return d

    def write_json(self, path):
        with tf.io.gfile.GFile(path, 'w') as f:
            json.dump(self.to_dict(), f, indent=2)

    def error_message(self):
        """One paragraph per problem, each with the rule that would fix it."""
        parts = []
        if self.unmatched_exclude_rules:
            parts.append(
                f'These checkpoint exclude rules match no variable of the model or the '
                f'checkpoint (a typo?): {self.unmatched_exclude_rules}. Run `jacktf '
                'inspect-checkpoint` to list the scopes.')
        if self.missing:
            parts.append(
                f'{len(self.missing)} model variables are not in the checkpoint '
                f'{self.checkpoint}: {_head(self.missing)}. If they are new layers, add '
                f'{_suggest(self.missing)} to CHECKPOINT_EXCLUDE_SCOPES.')
        if self.shape_mismatched:
            shown = ', '.join(f'{n} model {m} vs checkpoint {c}'
                              for n, m, c in self.shape_mismatched[:5])
            parts.append(
                f'{len(self.shape_mismatched)} variables have other shapes in the '
                f'checkpoint: {shown}. Add '
                f'{_suggest([n for n, _, _ in self.shape_mismatched])} to '
                'CHECKPOINT_EXCLUDE_SCOPES, or check the backbone options '
                '(depth multiplier, class count).')
        return '\n'.join(parts)


def _head(names, n=5):
    more = f' and {len(names) - n} more' if len(names) > n else ''
    return ', '.join(names[:n]) + more


def _suggest(names):
    rules = sorted({n.rsplit('/', 1)[0] for n in names})
    if len(rules) > 3:
        rules = [scopes.common_scope(names)]
    return repr(rules)


def checkpoint_variables(path):
    """{variable name: (checkpoint key, shape)} for a slim or object-based checkpoint."""
    try:
        reader = tf.train.load_checkpoint(path)
    except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as e:
        raise RestoreError(f'Cannot read the checkpoint {path!r}: {e}. Give the prefix '
                           '(e.g. model.ckpt, not model.ckpt.index).') from None
    shapes = reader.get_variable_to_shape_map()
    if _OBJECT_GRAPH_KEY not in shapes:
        return reader, {name: (name, list(shape)) for name, shape in shapes.items()
                        if name != 'global_step'}
    from tensorflow.core.protobuf import trackable_object_graph_pb2
    graph = trackable_object_graph_pb2.TrackableObjectGraph()
    graph.ParseFromString(reader.get_tensor(_OBJECT_GRAPH_KEY))
    found = {}
    for node in graph.nodes:
        for attr in node.attributes:
            if attr.name == 'VARIABLE_VALUE' and attr.full_name and \
                    '/.OPTIMIZER_SLOT/' not in attr.checkpoint_key:
                name = scopes.var_name(attr.full_name)
                if attr.checkpoint_key in shapes:
                    found.setdefault(name, (attr.checkpoint_key,
                                            list(shapes[attr.checkpoint_key])))
    return reader, found


def _map_name(name, scope_map):
    for model_scope, ckpt_scope in (scope_map or {}).items():
        if scopes.rule_matches(model_scope, name):
            return ckpt_scope + name[len(model_scope):]
    return name


def plan_restore(model_shapes: Dict[str, list], ckpt_shapes: Dict[str, list], *,
                 checkpoint='', exclude_scopes=(), classifier_scopes=(), backbone_scope=None,
                 scope_map=None, frozen: Sequence[str] = ()) -> RestoreReport:
    """Decides, for each model variable, restore / exclude / auto-exclude / error.

    Auto-excluded: variables of the classifier scopes whose shape differs or that the
    checkpoint lacks, and head variables outside ``backbone_scope`` that the checkpoint
    lacks (a new head). An exclude rule must match a model or checkpoint variable.
    """
    rules = scopes.parse_scopes(exclude_scopes)
    report = RestoreReport(checkpoint=checkpoint, frozen=list(frozen))
    report.unmatched_exclude_rules = scopes.unmatched_rules(
        list(model_shapes) + list(ckpt_shapes), rules)
    used = set()
    for name, shape in model_shapes.items():
        key = _map_name(name, scope_map)
        in_ckpt = key in ckpt_shapes
        new_head = backbone_scope and not scopes.rule_matches(backbone_scope, name)
        classifier = scopes.matches_any(name, classifier_scopes)
        if scopes.matches_any(name, rules):
            report.excluded.append(name)
        elif not in_ckpt:
            (report.auto_excluded if (classifier or new_head) else report.missing).append(name)
        elif list(ckpt_shapes[key]) != list(shape):
            if classifier:
                report.auto_excluded.append(name)
            else:
                report.shape_mismatched.append((name, list(shape), list(ckpt_shapes[key])))
        else:
            report.restored.append(name)
            used.add(key)
    report.unused_in_checkpoint = len(set(ckpt_shapes) - used)
    return report


def restore_from_checkpoint(model, checkpoint_path, *, exclude_scopes=(), scope_map=None,
                            strict=True, frozen=(), report_path=None, dry_run=False):
    """Assigns checkpoint values to the model's variables by name.

    Args:
      model: a built jacktf Model.
      checkpoint_path: a checkpoint prefix, or a directory holding checkpoints.
      exclude_scopes: slim exclude rules (prefixes at '/' boundaries, 're:' regexes).
      scope_map: {model scope: checkpoint scope} when the root scopes differ.
      strict: raise on missing variables, shape mismatches and unmatched rules.
      frozen: names of frozen variables, recorded in the report.
      report_path: where to write the report as JSON.
      dry_run: only plan and report; assign nothing.

    Returns:
      The RestoreReport.

    Raises:
      RestoreError: unreadable checkpoint, or (strict) the report is not ok.
    """
    checkpoint_path = resolve_checkpoint(checkpoint_path, getattr(model, 'registry', None))
    if tf.io.gfile.isdir(checkpoint_path):
        latest = tf.train.latest_checkpoint(checkpoint_path)
        if latest is None:
            raise RestoreError(f'No checkpoint in the directory {checkpoint_path!r}.')
        checkpoint_path = latest
    model.build()
    reader, ckpt = checkpoint_variables(checkpoint_path)
    variables = {scopes.var_name(v.name): v for v in model.variables}
    report = plan_restore(
        {n: v.shape.as_list() for n, v in variables.items()},
        {n: s for n, (_, s) in ckpt.items()}, checkpoint=checkpoint_path,
        exclude_scopes=exclude_scopes, classifier_scopes=model.card.classifier_scopes,
        backbone_scope=model.card.scope, scope_map=scope_map, frozen=frozen)
    if report_path:
        report.write_json(report_path)
    if strict and not report.ok:
        raise RestoreError(report.error_message())
    if dry_run:
        return report
    for name in report.restored:
        key = ckpt[_map_name(name, scope_map)][0]
        variables[name].assign(tf.cast(reader.get_tensor(key), variables[name].dtype))
    log.info(report.summary_line())
    return report

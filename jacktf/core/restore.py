"""Restoring a Model from a checkpoint by variable name, with slim's exclude rules.

Reads official slim checkpoints (TF1, name-based, written by tf.compat.v1.train.Saver)
and jacktf's own object-based checkpoints (their object graph records each variable's
name). ``plan_restore`` is pure: it decides variable by variable and returns the report
(``restore_report.RestoreReport``); ``restore_from_checkpoint`` resolves the path the
user gave (checkpoint_paths), applies the plan or raises with the fix; a checkpoint that
restores not one backbone variable is an error that says which net it belongs to
(checkpoint_diagnosis).
"""

import logging
from typing import Dict, Sequence

import tensorflow as tf

from jacktf.core import checkpoint_diagnosis, scopes
from jacktf.core.checkpoint_paths import resolve_checkpoint
from jacktf.core.errors import RestoreError
from jacktf.core.restore_report import RestoreReport

__all__ = ['RestoreReport', 'checkpoint_variables', 'plan_restore',
           'restore_from_checkpoint']

log = logging.getLogger('jacktf')
_OBJECT_GRAPH_KEY = '_CHECKPOINTABLE_OBJECT_GRAPH'


def checkpoint_variables(path):
    """{variable name: (checkpoint key, shape)} for a slim or object-based checkpoint."""
    try:
        reader = tf.train.load_checkpoint(path)
    except (tf.errors.NotFoundError, tf.errors.DataLossError, ValueError) as e:
        raise RestoreError(f'Cannot read the checkpoint {path!r}: it is not a TensorFlow '
                           f'checkpoint ({e}). Give the prefix of a checkpoint (model.ckpt '
                           'for model.ckpt.index + model.ckpt.data-*) or a folder holding '
                           'one.') from None
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
            rest = name[len(model_scope):]
            return ckpt_scope + rest if ckpt_scope else rest.lstrip('/')
    return name


def plan_restore(model_shapes: Dict[str, list], ckpt_shapes: Dict[str, list], *,
                 checkpoint='', exclude_scopes=(), classifier_scopes=(), backbone_scope=None,
                 scope_map=None, frozen: Sequence[str] = (),
                 restore_together: Sequence[str] = ()) -> RestoreReport:
    """Decides, for each model variable, restore / exclude / auto-exclude / error.

    Auto-excluded: variables of the classifier scopes whose shape differs or that the
    checkpoint lacks, and head variables outside ``backbone_scope`` that the checkpoint
    lacks (a new head). An exclude rule must match a model or checkpoint variable.
    A scope of ``restore_together`` (an auxiliary head) is restored whole or not at all,
    and the report notes when it starts fresh.
    """
    rules = scopes.parse_scopes(exclude_scopes)
    report = RestoreReport(checkpoint=checkpoint, frozen=list(frozen),
                           exclude_scopes=list(rules), backbone_scope=backbone_scope)
    report.unmatched_exclude_rules = scopes.unmatched_rules(
        list(model_shapes) + list(ckpt_shapes), rules)
    used = set()
    for name, shape in model_shapes.items():
        key = _map_name(name, scope_map)
        in_ckpt = key in ckpt_shapes
        new_head = backbone_scope and not scopes.rule_matches(backbone_scope, name)
        classifier = scopes.matches_any(name, classifier_scopes)
        in_backbone = bool(backbone_scope) and not new_head and not classifier
        report.backbone_total += in_backbone
        if scopes.matches_any(name, rules):
            report.excluded.append(name)
            report.backbone_excluded += in_backbone
        elif not in_ckpt:
            (report.auto_excluded if (classifier or new_head) else report.missing).append(name)
        elif list(ckpt_shapes[key]) != list(shape):
            if classifier:
                report.auto_excluded.append(name)
            else:
                report.shape_mismatched.append((name, list(shape), list(ckpt_shapes[key])))
        else:
            report.restored.append(name)
            report.backbone_restored += in_backbone
            used.add(key)
    for scope in restore_together:
        _restore_whole(report, scope, used, scope_map)
    report.unused_in_checkpoint = len(set(ckpt_shapes) - used)
    return report


def _restore_whole(report, scope, used, scope_map):
    """Moves ``scope``'s restored variables to auto-excluded unless all of it restores,
    and notes why it starts from fresh values."""
    restored = [n for n in report.restored if scopes.rule_matches(scope, n)]
    excluded = [n for n in report.excluded if scopes.rule_matches(scope, n)]
    auto = [n for n in report.auto_excluded if scopes.rule_matches(scope, n)]
    if not (excluded or auto):
        return
    for name in restored:
        report.restored.remove(name)
        report.auto_excluded.append(name)
        used.discard(_map_name(name, scope_map))
    if excluded:
        why = 'CHECKPOINT_EXCLUDE_SCOPES exclude part of it'
    elif restored:
        why = 'the checkpoint holds other shapes for part of it (another class count)'
    else:
        why = 'the checkpoint does not hold it'
    report.notes.append(
        f'{scope}/ ({len(restored) + len(excluded) + len(auto)} variables) starts from '
        f'fresh initial values: {why}; it is restored whole or not at all.')


def restore_from_checkpoint(model, checkpoint_path, *, exclude_scopes=(), scope_map=None,
                            strict=True, frozen=(), report_path=None, dry_run=False,
                            setting='CHECKPOINT_PATH', resolve_uri=None):
    """Assigns checkpoint values to the model's variables by name.

    Args:
      model: a built jacktf Model.
      checkpoint_path: a checkpoint prefix, one of its files (.index, .data-*, .meta),
        or a folder holding checkpoints (see checkpoint_paths.resolve_checkpoint).
      exclude_scopes: slim exclude rules (prefixes at '/' boundaries, 're:' regexes).
      scope_map: {model scope: checkpoint scope} when the root scopes differ.
      strict: raise on missing variables, shape mismatches and unmatched rules.
      frozen: names of frozen variables, recorded in the report.
      report_path: where to write the report as JSON.
      dry_run: only plan and report; assign nothing.
      setting: how the user gave the path ('CHECKPOINT_PATH', '--checkpoint'), for
        messages.
      resolve_uri: resolves 'builtin://' and 'slim://' paths (see
        checkpoint_paths.resolve_checkpoint).

    Returns:
      The RestoreReport. When it is not ok and the backbone is (mostly) not restored,
      its ``diagnosis`` says which net the checkpoint belongs to.

    Raises:
      RestoreError: a path that names no checkpoint, an unreadable checkpoint, or
        (strict) the report is not ok; not one backbone variable restored is never ok.
    """
    checkpoint_path = resolve_checkpoint(checkpoint_path, setting,
                                         getattr(model, 'registry', None),
                                         resolve_uri)
    model.build()
    reader, ckpt = checkpoint_variables(checkpoint_path)
    variables = {scopes.var_name(v.name): v for v in model.variables}
    report = plan_restore(
        {n: v.shape.as_list() for n, v in variables.items()},
        {n: s for n, (_, s) in ckpt.items()}, checkpoint=checkpoint_path,
        exclude_scopes=exclude_scopes, classifier_scopes=model.card.classifier_scopes,
        backbone_scope=model.card.scope, scope_map=scope_map, frozen=frozen,
        restore_together=model.card.restore_together)
    unfit = len(report.missing) + len(report.shape_mismatched)
    if (report.nothing_from_backbone and not report.backbone_all_excluded) or \
            unfit * 2 >= max(report.backbone_total, 1):
        report.diagnosis = checkpoint_diagnosis.diagnose(
            {n: v.shape.as_list() for n, v in variables.items()},
            {n: s for n, (_, s) in ckpt.items()}, card=model.card,
            registry=model.registry, backbone_name=model.backbone_name,
            scope_map=scope_map)
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
    for note in report.notes:
        log.info(note)
    return report

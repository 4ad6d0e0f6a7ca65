"""Restoring a Model from a checkpoint by variable name, with slim's exclude rules.

Reads official slim checkpoints (TF1, name-based, written by tf.compat.v1.train.Saver)
and jacktf's own object-based checkpoints (their object graph records each variable's
name). ``plan_restore`` is pure: it decides variable by variable and returns the report;
``restore_from_checkpoint`` resolves the path the user gave (checkpoint_paths), applies
the plan or raises with the fix; a checkpoint that restores not one backbone variable is
an error that says which net it belongs to (checkpoint_diagnosis).
"""

import dataclasses
import json
import logging
import re
from typing import Dict, List, Optional, Sequence, Tuple

import tensorflow as tf

from jacktf.core import checkpoint_diagnosis, scopes
from jacktf.core.checkpoint_paths import resolve_checkpoint
from jacktf.core.errors import RestoreError

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
    exclude_scopes: List[str] = dataclasses.field(default_factory=list)
    backbone_scope: Optional[str] = None
    backbone_total: int = 0  # backbone variables outside the net's own classifier
    backbone_restored: int = 0
    backbone_excluded: int = 0
    diagnosis: str = ''  # what the checkpoint holds, when it does not fit

    @property
    def nothing_from_backbone(self):
        """True when the model has backbone variables and not one would be restored."""
        return self.backbone_total > 0 and self.backbone_restored == 0

    @property
    def backbone_all_excluded(self):
        return self.backbone_total > 0 and self.backbone_excluded == self.backbone_total

    @property
    def ok(self):
        return not (self.missing or self.shape_mismatched or self.unmatched_exclude_rules
                    or self.nothing_from_backbone)

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
        """One paragraph per problem, each with the rule or binding that would fix it."""
        parts = []
        if self.unmatched_exclude_rules:
            parts.append(
                f'These checkpoint exclude rules match no variable of the model or the '
                f'checkpoint (a typo?): {self.unmatched_exclude_rules}. Run `jacktf '
                'inspect-checkpoint` to list the scopes.')
        if self.nothing_from_backbone and self.backbone_all_excluded:
            parts.append(
                f'CHECKPOINT_EXCLUDE_SCOPES {self.exclude_scopes} exclude all '
                f'{self.backbone_total} variables of the backbone {self.backbone_scope}/, so '
                f'nothing would be restored from {self.checkpoint}: that is training from '
                'scratch. To train from scratch on purpose, set CHECKPOINT_PATH = None; to '
                'fine-tune, exclude only the new layers (the net\'s own classifier is '
                'excluded automatically).')
            return '\n'.join(parts)
        if self.nothing_from_backbone:
            excluded = (f', {self.backbone_excluded} are excluded by '
                        f'CHECKPOINT_EXCLUDE_SCOPES' if self.backbone_excluded else '')
            parts.append(
                f'Not one of the {self.backbone_total} variables of the backbone '
                f'{self.backbone_scope}/ would be restored from {self.checkpoint} '
                f'({len(self.missing)} are not in it, {len(self.shape_mismatched)} have '
                f'other shapes{excluded}).')
            parts.append(self.diagnosis or 'Run `jacktf inspect-checkpoint` to compare.')
            return '\n'.join(parts)
        if self.missing:
            rules = _suggest(self.missing, self.backbone_scope, self._backbone_names())
            fix = (f'If they are new layers, add {rules} to CHECKPOINT_EXCLUDE_SCOPES.'
                   if rules else 'They spread over the backbone, so they are not new '
                   'layers: the checkpoint comes from another net or another version '
                   'of it.')
            parts.append(
                f'{len(self.missing)} model variables are not in the checkpoint '
                f'{self.checkpoint}: {_head(self.missing)}. {fix}')
        if self.shape_mismatched:
            shown = ', '.join(f'{n} model {m} vs checkpoint {c}'
                              for n, m, c in self.shape_mismatched[:5])
            rules = _suggest([n for n, _, _ in self.shape_mismatched], self.backbone_scope,
                             self._backbone_names())
            fix = (f'Add {rules} to CHECKPOINT_EXCLUDE_SCOPES, or check' if rules else
                   'They spread over the backbone: check')
            parts.append(
                f'{len(self.shape_mismatched)} variables have other shapes in the '
                f'checkpoint: {shown}. {fix} the backbone options (depth multiplier, '
                'class count).')
        if self.diagnosis:
            parts.append(self.diagnosis)
        return '\n'.join(parts)

    def _backbone_names(self):
        if not self.backbone_scope:
            return []
        every = (self.restored + self.excluded + self.auto_excluded + self.missing +
                 [n for n, _, _ in self.shape_mismatched])
        return [n for n in every if scopes.rule_matches(self.backbone_scope, n)]

    def lines(self, verbose=False, max_groups=30):
        """The report as text: a summary line, then each non-empty section.

        Sections longer than 12 names are grouped by scope with counts, in at most
        ``max_groups`` lines (see group_by_scope); ``verbose`` lists every variable.
        """
        out = [self.summary_line()]
        mismatch = {n: f'model {m} checkpoint {c}' for n, m, c in self.shape_mismatched}
        sections = [('restored', self.restored), ('excluded', self.excluded),
                    ('auto-excluded', self.auto_excluded), ('missing', self.missing),
                    ('shape-mismatched', [n for n, _, _ in self.shape_mismatched]),
                    ('frozen', self.frozen)]
        grouped = False
        for title, names in sections:
            if not names:
                continue
            out.append(f'{title} ({len(names)}):')
            if verbose or len(names) <= 12:
                out += [f'  {n} {mismatch[n]}' if title == 'shape-mismatched' else f'  {n}'
                        for n in names]
                continue
            grouped = True
            for scope, members in group_by_scope(names, max_groups):
                if len(members) == 1 and members[0] == scope:
                    line = f'  {scope}'
                elif scope.startswith('... '):
                    out.append(f'  {scope} ({len(members)} variables)')
                    continue
                else:
                    line = f'  {scope}/ ({len(members)})'
                if title == 'shape-mismatched':  # one example, the largest shape
                    first = max(members, key=lambda n: len(mismatch[n]))
                    line += f', e.g. {first[len(scope) + 1:] or first} {mismatch[first]}'
                out.append(line)
        if grouped:
            out.append('(grouped by scope with counts; --verbose lists every variable)')
        return out


def group_by_scope(names, max_groups=30):
    """[(scope, [names])]: ``names`` grouped by scope, level by level, into <= max_groups.

    Starting from the root scopes, every group is split into its sub-scopes (a chain of
    single sub-scopes is followed to its end) as long as the result has at most
    ``max_groups`` groups; a layer (a scope holding variables directly) is never split.
    When even the root scopes are more, the last group counts the rest as
    ``'... N more scopes'``.
    """
    groups = _split('', list(names))
    while True:
        finer = []
        for scope, members in groups:
            finer += [(scope, members)] if _is_layer(scope, members) else \
                _split(scope, members)
        if len(finer) == len(groups) or len(finer) > max_groups:
            break
        groups = finer
    groups.sort(key=lambda item: _natural(item[0]))
    if len(groups) > max_groups:
        rest = [n for _, members in groups[max_groups - 1:] for n in members]
        groups = groups[:max_groups - 1] + [
            (f'... {len(groups) - max_groups + 1} more scopes', rest)]
    return groups


def _is_layer(scope, members):
    return any(n == scope or '/' not in n[len(scope) + 1:] for n in members)


def _split(prefix, members):
    children = {}
    for name in members:
        rest = name[len(prefix) + 1:] if prefix else name
        head = rest.split('/')[0]
        children.setdefault(f'{prefix}/{head}' if prefix else head, []).append(name)
    out = []
    for scope, group in children.items():
        while not _is_layer(scope, group):
            below = {n[len(scope) + 1:].split('/')[0] for n in group}
            if len(below) != 1:
                break
            scope = f'{scope}/{below.pop()}'
        out.append((scope, group))
    return out


def _natural(text):
    return [(0, int(t), '') if t.isdigit() else (1, 0, t) for t in re.split(r'(\d+)', text)]


def _head(names, n=5):
    more = f' and {len(names) - n} more' if len(names) > n else ''
    return ', '.join(names[:n]) + more


def _suggest(names, backbone_scope=None, backbone=()):
    """Exclude rules covering ``names``, or None when they are no fix.

    Excluding the backbone root, or rules that cover half of the ``backbone`` variables
    or more, is (close to) training from scratch, never a fix; names spread over more
    than five scopes are not a few new layers either.
    """
    rules = sorted({n.rsplit('/', 1)[0] if '/' in n else n for n in names})
    if len(rules) > 3:
        rules = sorted({'/'.join(n.split('/')[:2]) for n in names})
    covered = [n for n in backbone if scopes.matches_any(n, rules)]
    if len(rules) > 5 or any(backbone_scope and scopes.rule_matches(r, backbone_scope)
                             for r in rules) or \
            (backbone and len(covered) * 2 >= len(backbone)):
        return None
    return repr(rules)


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
                 scope_map=None, frozen: Sequence[str] = ()) -> RestoreReport:
    """Decides, for each model variable, restore / exclude / auto-exclude / error.

    Auto-excluded: variables of the classifier scopes whose shape differs or that the
    checkpoint lacks, and head variables outside ``backbone_scope`` that the checkpoint
    lacks (a new head). An exclude rule must match a model or checkpoint variable.
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
    report.unused_in_checkpoint = len(set(ckpt_shapes) - used)
    return report


def restore_from_checkpoint(model, checkpoint_path, *, exclude_scopes=(), scope_map=None,
                            strict=True, frozen=(), report_path=None, dry_run=False,
                            setting='CHECKPOINT_PATH'):
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

    Returns:
      The RestoreReport. When it is not ok and the backbone is (mostly) not restored,
      its ``diagnosis`` says which net the checkpoint belongs to.

    Raises:
      RestoreError: a path that names no checkpoint, an unreadable checkpoint, or
        (strict) the report is not ok; not one backbone variable restored is never ok.
    """
    checkpoint_path = resolve_checkpoint(checkpoint_path, setting,
                                         getattr(model, 'registry', None))
    model.build()
    reader, ckpt = checkpoint_variables(checkpoint_path)
    variables = {scopes.var_name(v.name): v for v in model.variables}
    report = plan_restore(
        {n: v.shape.as_list() for n, v in variables.items()},
        {n: s for n, (_, s) in ckpt.items()}, checkpoint=checkpoint_path,
        exclude_scopes=exclude_scopes, classifier_scopes=model.card.classifier_scopes,
        backbone_scope=model.card.scope, scope_map=scope_map, frozen=frozen)
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
    return report

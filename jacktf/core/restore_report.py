"""The restore report: where each model variable's value comes from, and, when the
checkpoint does not fit, one paragraph per problem with the rule that would fix it.

``RestoreReport`` is filled by ``restore.plan_restore``; this module only tells it:
summary line, sections (long ones grouped by scope), JSON, error message.
"""

import dataclasses
import json
from typing import List, Optional, Tuple

from jacktf.core import scopes
from jacktf.core.scope_groups import group_by_scope


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
    notes: List[str] = dataclasses.field(default_factory=list)  # e.g. a fresh aux head

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
        from jacktf.core.files import write_atomic  # also gs:// and other file systems
        write_atomic(path, json.dumps(self.to_dict(), indent=2))

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
        return out + [f'note: {note}' for note in self.notes]


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

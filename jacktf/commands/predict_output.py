"""What `jacktf predict` prints: the table of each file's classes (the answer first
when the open-set rule flags it unknown), a multi-label run's label sets, and the
comparison of several models side by side."""


def label_set_text(row):
    """'chelsea 0.9312, coffee 0.7134', or '(none; highest rocket 0.3100)'."""
    if row['labels']:
        return ', '.join(f"{p['class_name']} {p['probability']:.4f}" for p in row['labels'])
    top = row['predictions'][0]
    return f"(none; highest {top['class_name']} {top['probability']:.4f})"


def print_label_sets(rows):
    """Multi-label: one line per file, its predicted label set with probabilities."""
    width = max(len(r['file']) for r in rows + [{'file': 'FILE'}])
    print(f'{"FILE":<{width}}  LABELS (probability >= the label\'s tuned threshold)')
    for r in rows:
        print(f"{r['file']:<{width}}  {label_set_text(r)}")
        if 'cam' in r:
            print(f"{'':<{width}}  CAM overlay: {r['cam']}")


def answer(row):
    """'unknown (closest: cat 0.41)' for a flagged row, else None."""
    if not row.get('unknown'):
        return None
    top = row['predictions'][0]
    return f"unknown (closest: {top['class_name']} {top['probability']:.2f})"


def print_table(rows):
    width = max(len(r['file']) for r in rows)
    cwidth = max([len(p['class_name']) for r in rows for p in r['predictions']] + [5])
    tta = rows and 'tta' in rows[0]
    print(f'{"FILE":<{width}}  {"CLASS":<{cwidth}}  PROBABILITY' +
          (f"  (TTA {rows[0]['tta']}; PLAIN)" if tta else ''))
    for r in rows:
        if answer(r):  # the answer first, then the closest classes
            print(f"{r['file']:<{width}}  {answer(r)}")
        for j, p in enumerate(r['predictions']):
            plain = f"  {p['probability_plain']:.4f}" if tta else ''
            print(f"{r['file'] if j == 0 and not answer(r) else '':<{width}}  "
                  f"{p['class_name']:<{cwidth}}  {p['probability']:.4f}{plain}")
        if 'cam' in r:
            print(f"{'':<{width}}  CAM overlay: {r['cam']}")


def column_names(opened):
    """Short, distinct column titles: 'SavedModel', 'tflite int8', 'onnx' (with the
    model's position when two are alike)."""
    names = [r.label.split(',')[0] for r in opened]
    return [f'{n} #{i + 1}' if names.count(n) > 1 else n for i, n in enumerate(names)]


def print_comparison(opened, tables):
    """One table: the files as rows, the models as columns (top-1 class and its
    probability), then each model's top-1 agreement with the first."""
    columns = column_names(opened)
    multi = all('labels' in rows[0] for rows in tables)  # compare label sets

    def cell(row):
        if multi:
            return '|'.join(p['class_name'] for p in row['labels']) or '(none)'
        return answer(row) or (f"{row['predictions'][0]['class_name']} "
                                f"{row['predictions'][0]['probability']:.4f}")

    cells = [[cell(row) for row in rows] for rows in tables]
    width = max(len(r['file']) for r in tables[0] + [{'file': 'FILE'}])
    widths = [max(len(c) for c in col + [title]) for col, title in zip(cells, columns)]
    print('  '.join([f'{"FILE":<{width}}'] + [f'{t:<{w}}' for t, w in
                                             zip(columns, widths)]).rstrip())
    for i, row in enumerate(tables[0]):
        print('  '.join([f'{row["file"]:<{width}}'] + [f'{col[i]:<{w}}' for col, w in
                                                     zip(cells, widths)]).rstrip())
    key = (lambda row: cell(row)) if multi else (lambda row: row['predictions'][0]['class'])
    first = [key(row) for row in tables[0]]
    parts = []
    for title, rows in zip(columns[1:], tables[1:]):
        same = sum(key(row) == c for row, c in zip(rows, first))
        parts.append(f'{title} {same}/{len(first)} ({same / len(first):.0%})')
    what = 'label-set' if multi else 'top-1'
    print(f'{what} agreement with {columns[0]}: ' + ', '.join(parts))
    for title, runner in zip(columns, opened):
        print(f'  {title}: {runner.path}')

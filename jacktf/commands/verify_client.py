"""`jacktf verify-client`: replays an export's client_test.json on a .tflite, .onnx or
SavedModel (the client steps of its card, in its own runtime) and checks the answers.
Exit 0: every image within tolerance; 1: some missed (each named with its numbers)."""

from jacktf.commands import common


def add_parser(subparsers, parents):
    p = common.add_command(subparsers, 'verify-client', parents,
                           help="replay an export's client_test.json on a model file and "
                           'check its answers')
    p.add_argument('model', help='a .tflite or .onnx file, or a SavedModel folder')
    p.add_argument('--client_test', help='the client_test.json to replay (default: the '
                   "one beside the model, or the same export's)")
    p.set_defaults(func=run)
    return p


def run(args):
    from jacktf.app import runtime
    from jacktf.serve import client_test, runners
    registry = runtime.load_plugins()
    runner = runners.open_model(args.model, registry)
    resolved = runner.path if runner.kind == 'saved_model' else args.model  # a version
    path = client_test.find(resolved, args.client_test)
    content = client_test.load(path)
    entry = client_test.entry_for(content, args.model, runner.kind, path)
    probs = runner.probabilities(client_test.images(content))
    problems, largest = client_test.compare(content, entry, probs, runner.class_names)
    count = len(content['images'])
    if problems:
        for image, problem in problems:
            print(f'FAIL {image}: {problem}')
        print(f'{runner.path} ({runner.label}) does NOT give the expected answers of {path} '
              f'on {len(problems)} of {count} images: it is another model than the one '
              'this client test was written with, or its client steps differ.')
        return 1
    print(f'{runner.path} ({runner.label}): all {count} images of {path} as expected '
          f'(top-1 names equal, max |diff| {largest:.2g} <= {entry["tolerance"]:.2g}).')
    return 0

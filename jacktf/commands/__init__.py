"""The subcommands of `jacktf`: one module per command (or group of commands).

``jacktf/cli.py`` is only the parser and the dispatch; each module here owns one
subcommand and has two functions:

* ``add_parser(subparsers, parents)`` adds the subcommand's parser (every option with a
  help text that says its default, see ``common.HelpFormatter``) and binds ``run`` with
  ``set_defaults(func=run)``;
* ``run(args)`` does the work and returns the exit code (0, or 1 for partial results).
  User mistakes raise a ``jacktf.core.errors`` subclass or call ``runtime.fail``.

Importing a command module must stay cheap: import TensorFlow, gin and anything that
imports them (most of jacktf) inside ``run``, never at the top, so that ``jacktf --help``
and ``jacktf X --help`` answer at once (``tests/test_cli_help.py`` checks this).

To add a subcommand ``jacktf lr-find``:

1. write ``jacktf/commands/lr_find.py`` with ``add_parser`` and ``run`` as above; make
   the parser with ``common.add_command(subparsers, 'lr-find', parents, help=...)``
   (it brings the help formatter and ``-v/--verbose``);
2. add ``lr_find`` to ``COMMANDS`` in ``jacktf/cli.py`` (the order of ``jacktf --help``);
3. add it to the command list in the README.
"""

"""`python -m jacktf.run` whose writes fail as on a full disk (run as a script).

`python tests/disk_full_run.py WHAT AFTER -- JACKTF.RUN FLAGS...`: after AFTER
successful checkpoint saves (WHAT = checkpoint) or at the first export (WHAT = export),
the write raises OSError(ENOSPC) at the boundary where jacktf hands it to the file system.
"""

import errno
import os
import sys

import jacktf  # noqa: F401  (before tensorflow)
import tensorflow as tf

from jacktf import run
from jacktf.serve import staging


def main():
    what, after = sys.argv[1], int(sys.argv[2])
    flags = sys.argv[sys.argv.index('--') + 1:]
    if what == 'checkpoint':
        save = tf.train.CheckpointManager.save
        calls = []

        def failing_save(self, checkpoint_number=None, **kwargs):
            calls.append(checkpoint_number)
            if len(calls) > after:
                path = os.path.join(self.directory, f'ckpt-{checkpoint_number}')
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
            return save(self, checkpoint_number=checkpoint_number, **kwargs)

        tf.train.CheckpointManager.save = failing_save
    elif what == 'export':
        def failing_publish(source, target):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), target)

        staging.publish = failing_publish
    sys.argv = ['jacktf.run'] + flags
    run.run()


if __name__ == '__main__':
    main()

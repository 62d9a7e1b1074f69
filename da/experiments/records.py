"""Run directories and their records: :mod:`da._runs`, under the name the experiments used.

The format (file names, statuses, the run id, readers, atomic writers, locks)
is declared once, in the bottom module :mod:`da._runs`, so that
:mod:`da.transfer`, :mod:`da.experiments` and :mod:`da.plot` read and write
the same directories; this module re-exports it.
"""

from da._runs import *  # noqa: F401,F403
from da._runs import __all__  # noqa: F401

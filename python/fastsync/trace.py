"""``python -m fastsync.trace run.json [--png out.png] [--summary]``: a trace written by
``fastsync.trace`` checked, summed per track, and drawn (fastsync/_trace_view.py).

For ``-m`` only: ``fastsync.trace`` itself is the recorder (and the diagonal sum); import
``fastsync._trace_view`` for these functions.
"""

import sys

from ._trace_view import main

if __name__ == "__main__":
    sys.exit(main())

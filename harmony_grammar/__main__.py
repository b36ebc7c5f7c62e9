"""``python -m harmony_grammar``: the same command line as ``harmony-grammar``."""

import sys

from harmony_grammar.cli import main

if __name__ == "__main__":
    sys.exit(main())

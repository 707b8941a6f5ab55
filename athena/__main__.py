"""``python -m athena``: the same entry point as the ``athena`` script.

Owns: nothing but the call. Never: adds behaviour of its own.
"""

from athena.cli import main

if __name__ == "__main__":
    main()
